import { Omittable } from '@kiln/common';
import {
  ATTEMPT_OUTCOMES,
  JOB_STATES,
  RUN_EVENTS,
  RUN_STATES,
  type Job,
  type JobAttempt,
  type JobState,
  type JobUsage,
  type Run,
  type RunEvent,
  type RunPage,
  type RunState,
  type Schedule,
  type WaitingJob,
} from '@kiln/persistence';
import type { PlanJob, PlanStep } from '@kiln/pipeline';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ResourcesResponse } from '../resources.dto';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsString, Matches, Max, MaxLength, Min } from 'class-validator';

const BRANCH = /^(?!-)(?!.*\.\.)[^\s~^:?*[\\]{1,255}$/;
const SHA = /^([0-9a-f]{40}|[0-9a-f]{64})$/;
const SCHEDULE_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export class TriggerRunDto {
  /** Unset: the repository's default branch. */
  @ApiPropertyOptional({ description: "Unset: the repository's default branch.", example: 'main' })
  @Omittable()
  @Matches(BRANCH, { message: 'branch must be a branch name' })
  branch?: string;

  /** Unset: the branch's head now. */
  @ApiPropertyOptional({
    description: "A full commit id; unset: the branch's head now.",
    pattern: SHA.source,
  })
  @Omittable()
  @Matches(SHA, { message: 'sha must be a full commit id' })
  sha?: string;
}

export class ListRunsQuery {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 200, default: 50 })
  @Omittable()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(200)
  limit?: number;

  /** A run number: answers the runs before it (the `next` of the previous page). */
  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    description: 'A run number: answers the runs before it (the `next` of the previous page).',
  })
  @Omittable()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  before?: number;

  @ApiPropertyOptional({ description: 'Only runs of this branch.', example: 'main' })
  @Omittable()
  @Matches(BRANCH, { message: 'branch must be a branch name' })
  branch?: string;

  @ApiPropertyOptional({
    enum: [...RUN_EVENTS],
    enumName: 'RunEvent',
    description: 'Only runs started by this event.',
  })
  @Omittable()
  @IsIn(RUN_EVENTS, { message: `event must be one of ${RUN_EVENTS.join(', ')}` })
  event?: RunEvent;

  @ApiPropertyOptional({
    enum: [...RUN_STATES],
    enumName: 'RunState',
    description: 'Only runs in this state.',
  })
  @Omittable()
  @IsIn(RUN_STATES, { message: `state must be one of ${RUN_STATES.join(', ')}` })
  state?: RunState;

  @ApiPropertyOptional({ description: "Only runs of this author (the forge's user name)." })
  @Omittable()
  @IsString()
  @MaxLength(255)
  author?: string;
}

export class CreateScheduleDto {
  @ApiProperty({ pattern: SCHEDULE_NAME.source, example: 'nightly' })
  @Matches(SCHEDULE_NAME, {
    message: 'name must be 1-63 lowercase letters, digits, - or _',
  })
  name!: string;

  /** Five fields (minute hour day month weekday), or six with seconds, in UTC. */
  @ApiProperty({
    description:
      'Five fields (minute hour day month weekday), or six with one second first, in UTC: a schedule fires at most once a minute.',
    example: '0 3 * * *',
  })
  @Matches(/^\S+( \S+){4,5}$/, { message: 'cron must be a cron pattern such as "0 3 * * *"' })
  cron!: string;

  @ApiPropertyOptional({ description: "Unset: the repository's default branch.", example: 'main' })
  @Omittable()
  @Matches(BRANCH, { message: 'branch must be a branch name' })
  branch?: string;
}

export class RunResponse implements Run {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ format: 'uuid' })
  repositoryId!: string;

  @ApiProperty({ type: 'integer', description: 'From 1, per repository.', example: 42 })
  number!: number;

  @ApiProperty({ enum: [...RUN_STATES], enumName: 'RunState' })
  state!: RunState;

  @ApiProperty({ enum: [...RUN_EVENTS], enumName: 'RunEvent' })
  event!: RunEvent;

  @ApiProperty({ example: 'refs/heads/main' })
  ref!: string;

  @ApiPropertyOptional({ example: 'main' })
  branch?: string;

  @ApiPropertyOptional({ example: 'v1.2.0' })
  tag?: string;

  @ApiProperty({ example: '3f786850e387550fdab836ed7e6dc881de23001b' })
  sha!: string;

  @ApiPropertyOptional({
    description:
      'The commit message (or pull request title), at most 64 KiB; in a list of runs, its first line only, at most 200 characters.',
  })
  message?: string;

  @ApiPropertyOptional({ description: "The commit's author (a pushed run: as the forge says)." })
  author?: string;

  @ApiPropertyOptional({
    description: 'Who started it: the user of a manual run, or `schedule <name>` for a cron run.',
  })
  startedBy?: string;

  @ApiPropertyOptional({ type: 'integer', description: 'The pull request it builds.' })
  pullRequest?: number;

  @ApiProperty({ description: 'A pull request from a fork: no secrets are injected.' })
  fromFork!: boolean;

  @ApiPropertyOptional({ type: [String] })
  changedFiles?: string[];

  @ApiPropertyOptional({
    type: [String],
    description: 'Why the run ended in `error`: `.kiln.yml:line:col: path: message` each.',
  })
  errors?: string[];

  @ApiPropertyOptional({ format: 'uuid', description: 'The run this one reruns.' })
  rerunOf?: string;

  @ApiPropertyOptional({
    example: 'production',
    description: 'A `promote` run: the environment it deploys to.',
  })
  environment?: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'A `promote` run: the run it deploys.' })
  promotedRunId?: string;

  @ApiPropertyOptional({
    type: String,
    format: 'date-time',
    description: 'When artifact retention deleted its artifacts (it is no longer promotable).',
  })
  artifactsDeletedAt?: Date;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: Date;

  @ApiPropertyOptional({ type: String, format: 'date-time' })
  startedAt?: Date;

  @ApiPropertyOptional({ type: String, format: 'date-time' })
  finishedAt?: Date;
}

export class RunPageResponse implements RunPage {
  @ApiProperty({ type: [RunResponse], description: 'Newest first.' })
  runs!: RunResponse[];

  @ApiPropertyOptional({
    type: 'integer',
    description: 'Pass as `before` for the next (older) page; absent on the last page.',
  })
  next?: number;
}

export class JobUsageResponse implements JobUsage {
  @ApiPropertyOptional({ example: 12.5 })
  cpuSeconds?: number;

  @ApiPropertyOptional({ type: 'integer', example: 268_435_456 })
  memPeakBytes?: number;
}

export class JobAttemptResponse implements JobAttempt {
  @ApiProperty({ type: 'integer', description: '1 for the first try.' })
  attempt!: number;

  @ApiPropertyOptional({ description: "The attempt's cluster task (its log and artifacts)." })
  taskId?: string;

  @ApiProperty({
    enum: ['queued', 'running', ...ATTEMPT_OUTCOMES],
    enumName: 'JobAttemptState',
    description:
      'queued or running: the latest attempt, not ended yet; `lost`: its task was given up ' +
      '(its agent stayed unreachable past the partition timeout, or the cluster lost it), so how ' +
      'it ended is unknown.',
  })
  state!: JobAttempt['state'];

  @ApiPropertyOptional({
    description: "Why the attempt's task ended, as a code.",
    example: 'AGENT_UNREACHABLE',
  })
  reason?: string;

  @ApiPropertyOptional({ description: 'How it ended (or why it waits), for people.' })
  statusMessage?: string;

  @ApiPropertyOptional({ type: 'integer' })
  exitCode?: number;

  @ApiPropertyOptional()
  agentId?: string;

  @ApiPropertyOptional({ type: String, format: 'date-time' })
  queuedAt?: Date;

  @ApiPropertyOptional({ type: String, format: 'date-time' })
  startedAt?: Date;

  @ApiPropertyOptional({ type: String, format: 'date-time' })
  finishedAt?: Date;
}

const STRING_MAP = { type: 'object', additionalProperties: { type: 'string' } } as const;

export class PlanStepResponse implements PlanStep {
  @ApiProperty({ example: 'make test' })
  name!: string;

  @ApiProperty({ description: 'The shell script the step runs.', example: 'make test' })
  run!: string;
}

/** A job as `.kiln.yml` compiled it for a run; a skipped job's has no steps. */
export class JobPlanResponse implements PlanJob {
  @ApiProperty({
    description: 'Unique in the run: the job name, plus its matrix values for an expansion.',
    example: 'build (node=18)',
  })
  key!: string;

  @ApiProperty({ description: "The job's name in `.kiln.yml`.", example: 'build' })
  name!: string;

  @ApiPropertyOptional({ ...STRING_MAP, example: { node: '18' } })
  matrix?: Record<string, string>;

  @ApiPropertyOptional({
    description: 'Absent: the job runs in a native cgroup container, without an image.',
    example: 'gcc:13',
  })
  image?: string;

  @ApiProperty({ type: [PlanStepResponse] })
  steps!: PlanStepResponse[];

  @ApiProperty({
    ...STRING_MAP,
    description: 'Pipeline env, overridden by job env, overridden by the matrix values.',
  })
  env!: Record<string, string>;

  @ApiProperty({ type: ResourcesResponse })
  resources!: ResourcesResponse;

  @ApiProperty({ type: [String], description: 'The keys of the jobs it waits for.' })
  needs!: string[];

  @ApiPropertyOptional({
    type: [String],
    description:
      'In a promote run: the keys of the jobs it needs that the promoted run built (skipped here).',
  })
  promotedNeeds?: string[];

  @ApiProperty({ type: 'integer', example: 3600 })
  timeoutSeconds!: number;

  @ApiProperty({ type: 'integer', description: 'Tries after the first.', example: 0 })
  retry!: number;

  @ApiProperty()
  allowFailure!: boolean;

  @ApiProperty({ type: [String], description: 'The names of the secrets it is given.' })
  secrets!: string[];

  @ApiProperty({ type: [String], description: 'The paths it keeps as artifacts.' })
  artifacts!: string[];
}

export class JobResponse implements Job {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ format: 'uuid' })
  runId!: string;

  @ApiProperty({ description: 'The job as `.kiln.yml` names it.', example: 'test' })
  key!: string;

  @ApiProperty({ enum: [...JOB_STATES], enumName: 'JobState' })
  state!: JobState;

  @ApiProperty({ type: JobPlanResponse })
  plan!: JobPlanResponse;

  @ApiProperty({
    type: 'integer',
    description: '1 for the first try; a retry or a rerun adds one. 0: never queued (skipped).',
  })
  attempt!: number;

  @ApiPropertyOptional()
  taskId?: string;

  @ApiProperty({ type: [String], description: 'The tasks of earlier attempts, oldest first.' })
  earlierTaskIds!: string[];

  @ApiPropertyOptional()
  agentId?: string;

  @ApiPropertyOptional({
    description: 'Why it waits, or how it ended.',
    example: 'needs 8 cpus; the largest agent has 2',
  })
  statusMessage?: string;

  @ApiPropertyOptional({ type: 'integer' })
  exitCode?: number;

  @ApiPropertyOptional({
    description: "Why the job's task ended, as a code.",
    example: 'TIMEOUT',
  })
  reason?: string;

  @ApiPropertyOptional({ type: JobUsageResponse })
  usage?: JobUsageResponse;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: Date;

  @ApiPropertyOptional({ type: String, format: 'date-time' })
  queuedAt?: Date;

  @ApiPropertyOptional({ type: String, format: 'date-time' })
  startedAt?: Date;

  @ApiPropertyOptional({ type: String, format: 'date-time' })
  finishedAt?: Date;
}

export class PromotedRunResponse {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ type: 'integer' })
  number!: number;
}

export class JobWithAttemptsResponse extends JobResponse {
  @ApiProperty({
    type: [JobAttemptResponse],
    description: 'Every attempt of the job (retries, reruns), oldest first; none if never queued.',
  })
  attempts!: JobAttemptResponse[];
}

export class RunDetailsResponse extends RunResponse {
  @ApiProperty({ type: [JobWithAttemptsResponse] })
  jobs!: JobWithAttemptsResponse[];

  @ApiPropertyOptional({
    type: PromotedRunResponse,
    description: 'A `promote` run: the run it deploys.',
  })
  promotedRun?: PromotedRunResponse;

  @ApiPropertyOptional({ format: 'uuid', description: 'A `promote` run: its promotion.' })
  promotionId?: string;
}

export class WaitingJobResponse implements WaitingJob {
  @ApiProperty({ format: 'uuid' })
  jobId!: string;

  @ApiProperty({ format: 'uuid' })
  runId!: string;

  @ApiProperty({ format: 'uuid' })
  repositoryId!: string;

  @ApiProperty({ example: 'acme/kiln' })
  repositoryName!: string;

  @ApiProperty({ type: 'integer', example: 42 })
  runNumber!: number;

  @ApiProperty({ description: 'The job as `.kiln.yml` names it.', example: 'test' })
  key!: string;

  @ApiProperty({ enum: ['queued', 'blocked'], enumName: 'WaitingJobState' })
  state!: 'queued' | 'blocked';

  @ApiProperty({
    type: String,
    format: 'date-time',
    description: 'Queued: since it was queued; blocked: since its run started.',
  })
  waitingSince!: Date;

  @ApiPropertyOptional({
    description: 'Why it waits; for a blocked job, the jobs it needs that have not ended.',
    example: 'waits for build (running)',
  })
  statusMessage?: string;
}

export class ScheduleResponse implements Schedule {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ format: 'uuid' })
  repositoryId!: string;

  @ApiProperty({ example: 'nightly' })
  name!: string;

  @ApiProperty({ description: 'In UTC.', example: '0 3 * * *' })
  cron!: string;

  @ApiProperty({ example: 'main' })
  branch!: string;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: Date;
}
