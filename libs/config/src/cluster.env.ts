import { IsOptional, IsString, Matches, MinLength } from 'class-validator';
import { CommonEnv } from './common.env';
import { EnvBool, EnvInt, EnvPort, WhenSet } from './decorators';
import { IsHttpUrl } from './url.validators';

/** Variables of every process that talks to the cluster master. */
export class ClusterClientEnv extends CommonEnv {
  /** Shared secret of the cluster: frameworks and agents present it to the master. */
  @IsString({
    message: 'KILN_CLUSTER_TOKEN must be set (a shared secret of at least 16 characters)',
  })
  @MinLength(16, { message: 'KILN_CLUSTER_TOKEN must be at least 16 characters' })
  readonly KILN_CLUSTER_TOKEN!: string;
}

/** Configuration of `apps/master`. */
export class MasterEnv extends ClusterClientEnv {
  @IsString()
  readonly KILN_MASTER_HOST: string = '127.0.0.1';

  @EnvPort()
  readonly KILN_MASTER_PORT: number = 5050;

  /** Period of the allocation cycle (offers are also made at once on events). */
  @EnvInt(10, 600_000)
  readonly KILN_MASTER_ALLOCATION_INTERVAL_MS: number = 1_000;

  /** An offer not answered within this is rescinded, so no framework can hoard the cluster. */
  @EnvInt(100, 3_600_000)
  readonly KILN_MASTER_OFFER_TIMEOUT_MS: number = 30_000;

  /** An agent silent for this long is unreachable; its tasks' frameworks are told. */
  @EnvInt(100, 3_600_000)
  readonly KILN_MASTER_AGENT_TIMEOUT_MS: number = 15_000;

  /** How often agents are asked to heartbeat. */
  @EnvInt(50, 600_000)
  readonly KILN_MASTER_AGENT_HEARTBEAT_MS: number = 5_000;

  /** How often frameworks get a HEARTBEAT event, so they can tell a dead stream. */
  @EnvInt(50, 600_000)
  readonly KILN_MASTER_FRAMEWORK_HEARTBEAT_MS: number = 15_000;

  /** Role weights for DRF, e.g. `ci=2,batch=1`; unnamed roles weigh 1. */
  @WhenSet()
  @Matches(/^\s*[a-z0-9][a-z0-9_.-]*=\d+(\.\d+)?\s*(,\s*[a-z0-9][a-z0-9_.-]*=\d+(\.\d+)?\s*)*$/, {
    message: 'KILN_MASTER_ROLE_WEIGHTS must look like ci=2,batch=1',
  })
  readonly KILN_MASTER_ROLE_WEIGHTS?: string;

  /** Role quotas (upper limits), e.g. `ci=cpus:8;mem:16384|batch=cpus:2`. */
  @IsOptional()
  @IsString()
  readonly KILN_MASTER_ROLE_QUOTAS?: string;
}

/** Configuration of `apps/agent`. */
export class AgentEnv extends ClusterClientEnv {
  @IsHttpUrl()
  readonly KILN_MASTER_URL: string = 'http://127.0.0.1:5050';

  /** Overrides fingerprinted resources, e.g. `cpus:2;mem:4096` (unnamed kinds are detected). */
  @IsOptional()
  @IsString()
  readonly KILN_AGENT_RESOURCES?: string;

  /** Extra attributes, e.g. `rack:a1;zone:eu`; `os` and `arch` are always set. */
  @IsOptional()
  @IsString()
  readonly KILN_AGENT_ATTRIBUTES?: string;

  /** The name the agent reports; defaults to the host name. */
  @IsOptional()
  @IsString()
  readonly KILN_AGENT_HOSTNAME?: string;

  /** How long a killed task gets between SIGTERM and SIGKILL. */
  @EnvInt(0, 600_000)
  readonly KILN_AGENT_KILL_GRACE_MS: number = 3_000;

  /** Limit the containerizers the agent may use, e.g. `process` (default: every one that works). */
  @IsOptional()
  @Matches(/^\s*(cgroup|process|docker)\s*(,\s*(cgroup|process|docker)\s*)*$/, {
    message: 'KILN_AGENT_CONTAINERIZERS must be a comma-separated list of cgroup, process, docker',
  })
  readonly KILN_AGENT_CONTAINERIZERS?: string;

  /**
   * Docker's default seccomp profile (its JSON file), every native task's filter; default
   * `/usr/local/share/kiln/seccomp/docker-default.json`. Without it the native containerizer is
   * not offered.
   */
  @IsOptional()
  @IsString()
  readonly KILN_AGENT_SECCOMP_PROFILE?: string;

  /**
   * The first host id of the native containerizer's id ranges: each running task maps its users
   * to 65536 host ids of its own, out of 1024 ranges from here. No host user may own ids there,
   * and two agents on one host need first ids at least 67108864 (1024 × 65536) apart.
   */
  @EnvInt(100_000, 4_227_858_430)
  readonly KILN_AGENT_FIRST_HOST_ID: number = 2 ** 30;

  /** Registry credentials for image pulls: `{"host":{"username":"…","password":"…"}}`. */
  @IsOptional()
  @IsString()
  readonly KILN_AGENT_REGISTRY_AUTH?: string;

  /**
   * Tasks (native and Docker) share the agent's network instead of having one of their own with
   * outbound access only (through slirp4netns): every service on the host's loopback is then in a
   * build's reach. For installations that trust every build; see docs/security.md.
   */
  @EnvBool()
  readonly KILN_AGENT_HOST_NETWORK: boolean = false;

  /**
   * Native containers the agent makes ahead of their tasks, of the kind of the last task it ran
   * (its network, CPU and memory): a task that finds one starts in it without waiting for runc,
   * its namespaces, mounts and network. Each waits at its gate with nothing of any task in it, and
   * is used once. 0 makes none.
   */
  @EnvInt(0, 64)
  readonly KILN_AGENT_WARM_CONTAINERS: number = 1;

  /**
   * The most the agent keeps of the commits it downloads from the server (a pack per commit),
   * every repository and the downloads under way together: the least recently used go first, and
   * a commit larger than this (or than what the downloads under way leave) is checked out through
   * git's protocol without being kept.
   */
  @EnvInt(16, 16 * 1024 * 1024)
  readonly KILN_AGENT_PACK_CACHE_MB: number = 2048;

  /**
   * Keep the sandbox of a task that did not finish successfully, for a post-mortem. Without it,
   * an agent also removes at its start the sandboxes of tasks it no longer has.
   */
  @EnvBool()
  readonly KILN_AGENT_KEEP_FAILED_SANDBOXES: boolean = false;
}
