import { IsString } from 'class-validator';
import { EnvInt, EnvPort, WhenSet } from './decorators';
import { RedisEnv } from './common.env';
import { IsPostgresUrl } from './url.validators';

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
}
