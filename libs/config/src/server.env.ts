import { IsOptional, IsString, Matches, MinLength } from 'class-validator';
import { EnvInt, EnvPort, WhenSet } from './decorators';
import { RedisEnv } from './common.env';
import { IsHttpUrl, IsPostgresUrl } from './url.validators';

/** Configuration of `apps/server`. */
export class ServerEnv extends RedisEnv {
  /** Address the HTTP server binds; 0.0.0.0 to accept connections from other hosts. */
  @IsString()
  readonly KILN_HOST: string = '127.0.0.1';

  @EnvPort()
  readonly KILN_PORT: number = 8080;

  /** Unset: embedded SQLite under KILN_DATA_DIR. A postgres:// URL: that PostgreSQL database. */
  @WhenSet()
  @IsPostgresUrl()
  readonly KILN_DATABASE_URL?: string;

  /** How long a SIGTERM/SIGINT waits for in-flight work before the process exits anyway. */
  @EnvInt(0, 600_000)
  readonly KILN_SHUTDOWN_TIMEOUT_MS: number = 10_000;

  /** The cluster master the build framework subscribes to. */
  @IsHttpUrl()
  readonly KILN_MASTER_URL: string = 'http://127.0.0.1:5050';

  /** Shared secret of the cluster (see the master). */
  @IsString({
    message: 'KILN_CLUSTER_TOKEN must be set (a shared secret of at least 16 characters)',
  })
  @MinLength(16, { message: 'KILN_CLUSTER_TOKEN must be at least 16 characters' })
  readonly KILN_CLUSTER_TOKEN!: string;

  /**
   * The address people and agents reach this server at: links in commit statuses, where agents
   * send logs. Unset: the address the server listens on.
   */
  @WhenSet()
  @IsHttpUrl()
  readonly KILN_PUBLIC_URL?: string;

  /**
   * Seals secrets at rest (AES-256-GCM): 64 hex digits. Unset: a key generated on first start
   * in KILN_DATA_DIR/secret.key. Servers that share a database must share it.
   */
  @IsOptional()
  @IsString()
  readonly KILN_SECRET_KEY?: string;

  /**
   * An API token of the first administrator, made valid at every start. Unset: one generated
   * on first start into KILN_DATA_DIR/api-token.
   */
  @WhenSet()
  @IsString()
  @MinLength(16, { message: 'KILN_API_TOKEN must be at least 16 characters' })
  readonly KILN_API_TOKEN?: string;

  /**
   * The first administrator's password, used when the first start creates the account. Unset:
   * one generated into KILN_DATA_DIR/admin-password.
   */
  @WhenSet()
  @IsString()
  @MinLength(12, { message: 'KILN_ADMIN_PASSWORD must be at least 12 characters' })
  readonly KILN_ADMIN_PASSWORD?: string;

  /** The cluster role the build framework's tasks run in (DRF weights and quotas apply to it). */
  @Matches(/^[a-z0-9][a-z0-9_.-]*$/, { message: 'KILN_BUILD_ROLE must look like ci' })
  readonly KILN_BUILD_ROLE: string = 'ci';

  /**
   * How long the build framework waits for a task whose agent is unreachable (partitioned, or
   * restarting) before it gives the task up as lost: its attempt ends, the job retries or fails,
   * and the task is killed should its agent come back. Longer than the master's agent timeout.
   */
  @EnvInt(100, 7 * 24 * 3600_000)
  readonly KILN_BUILD_PARTITION_TIMEOUT_MS: number = 300_000;

  /** How many queued jobs the build framework matches against offers at once. */
  @EnvInt(1, 10_000)
  readonly KILN_BUILD_CONCURRENCY: number = 200;

  /**
   * How much of a job attempt's log is kept, in MiB (GitLab keeps 4): past it, a marker line
   * says the log was cut and the rest of the output is dropped.
   */
  @EnvInt(1, 10_240)
  readonly KILN_LOG_LIMIT_MIB: number = 16;

  /**
   * The most the server keeps of the commits it packs for agents (a pack per commit, at most 8
   * per repository), every repository together, in MB: the least recently used go first.
   */
  @EnvInt(16, 16 * 1024 * 1024)
  readonly KILN_MIRROR_PACKS_MB: number = 4096;
}
