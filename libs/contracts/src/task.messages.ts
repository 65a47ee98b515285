import {
  ArrayMaxSize,
  IsDefined,
  IsBoolean,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
} from 'class-validator';
import { ArtifactInputsInfo, ArtifactSinkInfo } from './artifact.messages';
import { LogSinkInfo } from './log.messages';
import type { Resources, PortRange } from './resources';
import { TASK_REASONS, TASK_STATES, type TaskReason, type TaskState } from './task-state';
import { ID_PATTERN, IsPortRanges, IsStringRecord, Nested } from './validation';

export const CONTAINERIZERS = ['process', 'cgroup', 'docker'] as const;
export type ContainerizerName = (typeof CONTAINERIZERS)[number];

/** {@link Resources} on the wire. */
/**
 * The most of one scalar resource a message may name: far beyond any cluster (a billion cores, a
 * pebibyte in MiB), and small enough that sums of them on the allocator's 1e-6 grid stay exact
 * (1e9 × 1e6 is below 2^53) and shares stay finite.
 */
export const MAX_SCALAR_RESOURCE = 1e9;

export class ResourcesMessage implements Resources {
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(MAX_SCALAR_RESOURCE)
  cpus!: number;

  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(MAX_SCALAR_RESOURCE)
  mem!: number;

  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(MAX_SCALAR_RESOURCE)
  disk!: number;

  @IsPortRanges()
  ports!: readonly PortRange[];
}

export class CommandInfo {
  /** true: `value` is a shell script run by `/bin/sh -c`; false: `value` is the executable. */
  @IsBoolean()
  shell!: boolean;

  @IsString()
  @MaxLength(1_000_000)
  value!: string;

  @IsOptional()
  @IsString({ each: true })
  @ArrayMaxSize(10_000)
  arguments?: string[];

  @IsOptional()
  @IsStringRecord()
  environment?: Record<string, string>;
}

export class ContainerInfo {
  @IsIn(CONTAINERIZERS)
  type!: ContainerizerName;

  /** Required by (and only allowed with) the docker containerizer. */
  @IsOptional()
  @IsString()
  @MaxLength(512)
  image?: string;

  @IsOptional()
  @IsIn(['host', 'none'])
  network?: 'host' | 'none';
}

/** Where a task's source comes from: the agent checks out exactly `sha` before the command runs. */
export class SourceInfo {
  /** http(s), git, ssh or file URL of the repository. */
  @Matches(/^(https?|git|ssh|file):\/\/\S+$/, {
    message: 'source.url must be an http(s), git, ssh or file URL',
  })
  @MaxLength(2048)
  url!: string;

  /** The exact commit (SHA-1 or SHA-256, lowercase hex). */
  @Matches(/^([0-9a-f]{40}|[0-9a-f]{64})$/, { message: 'source.sha must be a full commit id' })
  sha!: string;

  /**
   * The commit alone as one git pack (its tree, none of its history) over plain http(s), with the
   * same credentials as `url`: what an agent with a cache downloads instead of speaking git's
   * protocol to `url`, which stays for agents that cannot use it.
   */
  @IsOptional()
  @Matches(/^https?:\/\/\S+$/, { message: 'source.packUrl must be an http(s) URL' })
  @MaxLength(2048)
  packUrl?: string;

  /** The ref the commit is on, fetched when the server refuses to serve a bare sha. */
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  ref?: string;

  /** For http(s) URLs: sent as basic authentication, never written to the checkout. */
  @IsOptional()
  @IsString()
  @MaxLength(256)
  username?: string;

  @IsOptional()
  @IsString()
  @MaxLength(4096)
  password?: string;

  /**
   * The repository the commit is of, as the framework names it: agents keep one object cache per
   * key, so a commit crosses the network once per agent. None: no cache.
   */
  @IsOptional()
  @Matches(ID_PATTERN)
  cacheKey?: string;
}

/** What a framework launches: a command, the resources it may use and how to contain it. */
export class TaskInfo {
  @Matches(ID_PATTERN, { message: 'taskId must be 1-128 characters of A-Z a-z 0-9 _ . : -' })
  taskId!: string;

  @IsString()
  @MaxLength(256)
  name!: string;

  @IsDefined()
  @Nested(() => CommandInfo)
  command!: CommandInfo;

  @IsDefined()
  @Nested(() => ResourcesMessage)
  resources!: ResourcesMessage;

  /** Unset: the agent's default containerizer. */
  @IsOptional()
  @Nested(() => ContainerInfo)
  container?: ContainerInfo;

  /** Checked out into the task's sandbox, its working directory, before the command runs. */
  @IsOptional()
  @Nested(() => SourceInfo)
  source?: SourceInfo;

  /** After this long the task is killed with reason TIMEOUT. */
  @IsOptional()
  @IsNumber()
  @Min(0.001)
  @Max(7 * 24 * 3600)
  maxCompletionTimeSeconds?: number;

  @IsOptional()
  @IsStringRecord(100)
  labels?: Record<string, string>;

  /** Where the agent streams the task's standard output as it is written; unset: kept local. */
  @IsOptional()
  @Nested(() => LogSinkInfo)
  logSink?: LogSinkInfo;

  /** Where the agent uploads the task's artifacts after it succeeds; unset: none are kept. */
  @IsOptional()
  @Nested(() => ArtifactSinkInfo)
  artifacts?: ArtifactSinkInfo;

  /** Artifacts placed in the sandbox after the source checkout, before the command runs. */
  @IsOptional()
  @Nested(() => ArtifactInputsInfo)
  inputs?: ArtifactInputsInfo;
}

export class ResourceUsageMessage {
  @IsOptional()
  @IsNumber()
  @Min(0)
  cpuSeconds?: number;

  @IsOptional()
  @IsNumber()
  @Min(0)
  memPeakBytes?: number;
}

export const STATUS_SOURCES = ['MASTER', 'AGENT'] as const;

/** A task's state change, from the agent (acknowledged, with a uuid) or the master (no uuid). */
export class TaskStatus {
  @Matches(ID_PATTERN)
  taskId!: string;

  @IsIn(TASK_STATES)
  state!: TaskState;

  @IsOptional()
  @IsIn(TASK_REASONS)
  reason?: TaskReason;

  @IsOptional()
  @IsString()
  @MaxLength(4096)
  message?: string;

  @IsOptional()
  @IsInt()
  exitCode?: number;

  @IsOptional()
  @Matches(ID_PATTERN)
  agentId?: string;

  @IsOptional()
  @Matches(ID_PATTERN)
  frameworkId?: string;

  /** Set on updates that must be acknowledged (the agent's); absent on the master's own. */
  @IsOptional()
  @IsString()
  @MaxLength(64)
  uuid?: string;

  @IsIn(STATUS_SOURCES)
  source!: (typeof STATUS_SOURCES)[number];

  /** Seconds since the epoch, fractional. */
  @IsNumber()
  timestamp!: number;

  /**
   * On TASK_UNREACHABLE: when the master stopped hearing from the task's agent (seconds since the
   * epoch), kept on every later answer, so a framework's give-up deadline survives reconciliation.
   */
  @IsOptional()
  @IsNumber()
  unreachableTime?: number;

  @IsOptional()
  @Nested(() => ResourceUsageMessage)
  usage?: ResourceUsageMessage;
}
