import { Inject, Injectable, Optional } from '@nestjs/common';
import { sql, type Kysely, type Updateable } from 'kysely';
import type { DatabaseConnection } from '../connect';
import { DATABASE } from '../database.token';
import {
  NO_RECORD_CHANGES,
  RECORD_CHANGES,
  type RecordChange,
  type RecordChanges,
} from '../record-changes';
import type {
  AttemptOutcome,
  Database,
  JobAttemptRow,
  JobRow,
  JobState,
  JobsTable,
} from '../schema';
import { afterCommit, inTransaction, queryTarget } from '../unit-of-work';

export interface JobUsage {
  cpuSeconds?: number;
  memPeakBytes?: number;
}

export interface Job {
  id: string;
  runId: string;
  key: string;
  state: JobState;
  /** The compiled plan job (JSON): the pipeline service knows its shape. */
  plan: unknown;
  /** 1 for the first try; a retry or a rerun adds one. 0: never queued (skipped). */
  attempt: number;
  taskId?: string;
  /** The tasks of earlier attempts, oldest first. */
  earlierTaskIds: string[];
  agentId?: string;
  statusMessage?: string;
  exitCode?: number;
  reason?: string;
  usage?: JobUsage;
  createdAt: Date;
  queuedAt?: Date;
  startedAt?: Date;
  finishedAt?: Date;
}

/** One attempt of a job: its task, how it ended (or that it has not yet) and when. */
export interface JobAttempt {
  attempt: number;
  taskId?: string;
  state: 'queued' | 'running' | AttemptOutcome;
  reason?: string;
  statusMessage?: string;
  exitCode?: number;
  agentId?: string;
  queuedAt?: Date;
  startedAt?: Date;
  finishedAt?: Date;
}

/** What a transition may record besides the state; `null` clears a value. */
export interface JobChanges {
  /**
   * The job's current attempt ends here, so (with `attempt`) another can start: kept in the
   * attempts with this outcome and message, and the reason, exit code and agent of these changes.
   */
  attemptEnded?: { state: AttemptOutcome; message: string };
  attempt?: number;
  taskId?: string | null;
  agentId?: string | null;
  statusMessage?: string | null;
  exitCode?: number | null;
  reason?: string | null;
  usage?: JobUsage | null;
  now?: Date;
}

/** A job that waits (queued or blocked), with where it comes from: the queue as people see it. */
export interface WaitingJob {
  jobId: string;
  runId: string;
  repositoryId: string;
  repositoryName: string;
  runNumber: number;
  key: string;
  state: 'queued' | 'blocked';
  /** Queued: since it was queued; blocked: since its run started (or it was created). */
  waitingSince: Date;
  statusMessage?: string;
}

export const TERMINAL_JOB_STATES: readonly JobState[] = [
  'success',
  'failure',
  'canceled',
  'skipped',
];

/**
 * A run's jobs and their state machine (blocked → queued → running → an end). Its writes join a
 * unit of work they run in (the build framework's batch of task updates).
 */
@Injectable()
export class JobsRepository {
  constructor(
    @Inject(DATABASE) private readonly connection: DatabaseConnection,
    @Optional()
    @Inject(RECORD_CHANGES)
    private readonly changes: RecordChanges = NO_RECORD_CHANGES,
  ) {}

  private get db(): Kysely<Database> {
    return queryTarget(this.connection);
  }

  /** Live pages hear of a change once it has committed, and read it then. */
  private changed(change: RecordChange): Promise<void> {
    return afterCommit(this.connection, () => this.changes.changed(change));
  }

  async findById(id: string): Promise<Job | undefined> {
    const row = await this.db
      .selectFrom('jobs')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toJob(row);
  }

  async findByTaskId(taskId: string): Promise<Job | undefined> {
    const row = await this.db
      .selectFrom('jobs')
      .selectAll()
      .where('task_id', '=', taskId)
      .executeTakeFirst();
    return row && toJob(row);
  }

  /** A run's jobs in the order they were compiled (dependencies first). */
  async listByRun(runId: string): Promise<Job[]> {
    const rows = await this.db
      .selectFrom('jobs')
      .selectAll()
      .where('run_id', '=', runId)
      .orderBy('position')
      .execute();
    return rows.map(toJob);
  }

  async listByState(states: readonly JobState[]): Promise<Job[]> {
    const rows = await this.db
      .selectFrom('jobs')
      .selectAll()
      .where('state', 'in', states)
      .orderBy('created_at')
      .orderBy('position')
      .execute();
    return rows.map(toJob);
  }

  /**
   * The jobs that wait, longest waiting first, with their run's number and repository's name; with
   * `repositoryIds`, only jobs of those repositories.
   */
  async listWaiting(repositoryIds?: ReadonlySet<string>): Promise<WaitingJob[]> {
    if (repositoryIds?.size === 0) return [];
    let query = this.db
      .selectFrom('jobs')
      .innerJoin('runs', 'runs.id', 'jobs.run_id')
      .innerJoin('repositories', 'repositories.id', 'runs.repository_id')
      .select([
        'jobs.id as job_id',
        'jobs.run_id',
        'runs.repository_id',
        'repositories.full_name',
        'runs.number',
        'jobs.key',
        'jobs.state',
        'jobs.status_message',
        'jobs.created_at',
        'jobs.queued_at',
        'runs.started_at',
      ])
      .where('jobs.state', 'in', ['queued', 'blocked']);
    if (repositoryIds !== undefined) {
      query = query.where('runs.repository_id', 'in', [...repositoryIds]);
    }
    const rows = await query.orderBy('jobs.created_at').orderBy('jobs.position').execute();
    const waiting = rows.map((row): WaitingJob => ({
      jobId: row.job_id,
      runId: row.run_id,
      repositoryId: row.repository_id,
      repositoryName: row.full_name,
      runNumber: row.number,
      key: row.key,
      state: row.state === 'queued' ? 'queued' : 'blocked',
      waitingSince: new Date(
        (row.state === 'queued' ? row.queued_at : row.started_at) ?? row.created_at,
      ),
      ...(row.status_message === null ? {} : { statusMessage: row.status_message }),
    }));
    // Stable: jobs waiting since the same moment keep their run's order.
    return waiting.sort((a, b) => a.waitingSince.getTime() - b.waitingSince.getTime());
  }

  /**
   * Compare-and-set: moves the job from one of `from` to `to` when it is still there (and, with
   * `attempt`, still at that attempt); answers the job as it is now, or undefined if another
   * transition got there first.
   */
  async transition(
    id: string,
    from: readonly JobState[],
    to: JobState,
    changes: JobChanges = {},
    attempt?: number,
  ): Promise<Job | undefined> {
    const now = (changes.now ?? new Date()).toISOString();
    const moved = await inTransaction(this.connection, async (tx) => {
      // The job as it was, locked, so the attempt that ends is recorded as it was.
      let read = tx.selectFrom('jobs').selectAll().where('id', '=', id);
      if (this.connection.dialect === 'postgres') read = read.forUpdate();
      const before = await read.executeTakeFirst();
      if (before === undefined || !from.includes(before.state)) return false;
      if (attempt !== undefined && before.attempt !== attempt) return false;
      await this.updateJob(tx, id, to, changes, now);
      await recordEndedAttempt(tx, toJob(before), changes, now);
      return true;
    });
    if (!moved) return undefined;
    const job = await this.findById(id);
    if (job !== undefined) {
      await this.changed({ kind: 'job', id, runId: job.runId, state: job.state });
    }
    return job;
  }

  private async updateJob(
    tx: Kysely<Database>,
    id: string,
    to: JobState,
    changes: JobChanges,
    now: string,
  ): Promise<void> {
    await tx
      .updateTable('jobs')
      .set({
        state: to,
        ...columns(changes),
        // A new attempt keeps the old task's id, so its log stays readable.
        ...(changes.taskId === null
          ? {
              earlier_task_ids: sql<string>`CASE WHEN task_id IS NULL THEN earlier_task_ids
                WHEN earlier_task_ids = '' THEN task_id
                ELSE earlier_task_ids || ',' || task_id END`,
            }
          : {}),
        ...(to === 'queued' ? { queued_at: now, started_at: null, finished_at: null } : {}),
        ...(to === 'running' ? { started_at: now } : {}),
        ...(TERMINAL_JOB_STATES.includes(to) ? { finished_at: now } : {}),
      })
      .where('id', '=', id)
      .execute();
  }

  /**
   * Every attempt of each job, oldest first: the ended ones as they were kept, the latest as the
   * job's own columns say (queued, running, or how it ended). A job never queued has none.
   */
  async attempts(jobs: readonly Job[]): Promise<Map<string, JobAttempt[]>> {
    const byJob = new Map<string, JobAttempt[]>(jobs.map((job) => [job.id, []]));
    if (jobs.length === 0) return byJob;
    const rows = await this.db
      .selectFrom('job_attempts')
      .selectAll()
      .where(
        'job_id',
        'in',
        jobs.map((job) => job.id),
      )
      .orderBy('job_id')
      .orderBy('attempt')
      .execute();
    for (const row of rows) byJob.get(row.job_id)?.push(toAttempt(row));
    for (const job of jobs) {
      const list = byJob.get(job.id) ?? [];
      const current = currentAttempt(job);
      if (current !== undefined && !list.some((a) => a.attempt === current.attempt)) {
        list.push(current);
      }
    }
    return byJob;
  }

  /**
   * Records the task about to be launched for a queued job's attempt, and its agent, before the
   * launch, so a restarted server knows what to reconcile and where. Only one task per attempt:
   * false if the job has one already, moved on, or is at another attempt.
   */
  async assignTask(id: string, attempt: number, taskId: string, agentId: string): Promise<boolean> {
    const assigned = await this.db
      .updateTable('jobs')
      .set({ task_id: taskId, agent_id: agentId })
      .where('id', '=', id)
      .where('attempt', '=', attempt)
      .where('state', '=', 'queued')
      .where('task_id', 'is', null)
      .returning('run_id')
      .executeTakeFirst();
    if (assigned === undefined) return false;
    // Its page shows the agent, and its log can be followed from now on: told, not found later.
    await this.changed({ kind: 'job', id, runId: assigned.run_id });
    return true;
  }

  /** Forgets a task that was never launched (the cluster does not know it): launch anew. */
  async releaseTask(id: string, taskId: string): Promise<boolean> {
    const result = await this.db
      .updateTable('jobs')
      .set({ task_id: null, agent_id: null })
      .where('id', '=', id)
      .where('task_id', '=', taskId)
      .where('state', '=', 'queued')
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** Sets why a queued job waits (for people), without a state change. */
  async setStatusMessage(id: string, message: string | null): Promise<void> {
    const updated = await this.db
      .updateTable('jobs')
      .set({ status_message: message })
      .where('id', '=', id)
      .returning('run_id')
      .executeTakeFirst();
    if (updated !== undefined) await this.changed({ kind: 'job', id, runId: updated.run_id });
  }
}

/**
 * Keeps the attempt a transition ends: the one `attemptEnded` names, or, when a new attempt
 * starts without it (a rerun of an ended job), the ended attempt as the job recorded it. The
 * first record of an attempt wins: an attempt ends once.
 */
async function recordEndedAttempt(
  tx: Kysely<Database>,
  before: Job,
  changes: JobChanges,
  now: string,
): Promise<void> {
  const ended = changes.attemptEnded;
  const newAttempt = changes.attempt !== undefined && changes.attempt !== before.attempt;
  if (before.attempt === 0 || (ended === undefined && !newAttempt)) return;
  let row: JobAttemptRow;
  if (ended !== undefined) {
    const pick = <T>(change: T | null | undefined, kept: T | undefined): T | null =>
      change === undefined ? (kept ?? null) : change;
    row = {
      job_id: before.id,
      attempt: before.attempt,
      task_id: before.taskId ?? null,
      state: ended.state,
      reason: pick(changes.reason, before.reason),
      status_message: ended.message,
      exit_code: pick(changes.exitCode, before.exitCode),
      agent_id: pick(changes.agentId, before.agentId),
      queued_at: before.queuedAt?.toISOString() ?? null,
      started_at: before.startedAt?.toISOString() ?? null,
      finished_at: now,
    };
  } else {
    const current = currentAttempt(before);
    if (current === undefined || current.state === 'queued' || current.state === 'running') return;
    row = {
      job_id: before.id,
      attempt: current.attempt,
      task_id: current.taskId ?? null,
      state: current.state,
      reason: current.reason ?? null,
      status_message: current.statusMessage ?? null,
      exit_code: current.exitCode ?? null,
      agent_id: current.agentId ?? null,
      queued_at: current.queuedAt?.toISOString() ?? null,
      started_at: current.startedAt?.toISOString() ?? null,
      finished_at: (current.finishedAt ?? new Date(now)).toISOString(),
    };
  }
  await tx
    .insertInto('job_attempts')
    .values(row)
    .onConflict((conflict) => conflict.columns(['job_id', 'attempt']).doNothing())
    .execute();
}

/** The job's latest attempt as its own columns tell it; undefined if it has not been queued. */
function currentAttempt(job: Job): JobAttempt | undefined {
  if (job.attempt === 0) return undefined;
  let state: JobAttempt['state'];
  switch (job.state) {
    case 'blocked':
    case 'skipped':
      return undefined; // this attempt never started: the job waited on (or lost) a need
    case 'queued':
    case 'running':
    case 'success':
    case 'failure':
    case 'canceled':
      state = job.state;
      break;
  }
  return {
    attempt: job.attempt,
    state,
    ...(job.taskId === undefined ? {} : { taskId: job.taskId }),
    ...(job.reason === undefined ? {} : { reason: job.reason }),
    ...(job.statusMessage === undefined ? {} : { statusMessage: job.statusMessage }),
    ...(job.exitCode === undefined ? {} : { exitCode: job.exitCode }),
    ...(job.agentId === undefined ? {} : { agentId: job.agentId }),
    ...(job.queuedAt === undefined ? {} : { queuedAt: job.queuedAt }),
    ...(job.startedAt === undefined ? {} : { startedAt: job.startedAt }),
    ...(job.finishedAt === undefined ? {} : { finishedAt: job.finishedAt }),
  };
}

function toAttempt(row: JobAttemptRow): JobAttempt {
  return {
    attempt: row.attempt,
    state: row.state,
    ...(row.task_id === null ? {} : { taskId: row.task_id }),
    ...(row.reason === null ? {} : { reason: row.reason }),
    ...(row.status_message === null ? {} : { statusMessage: row.status_message }),
    ...(row.exit_code === null ? {} : { exitCode: row.exit_code }),
    ...(row.agent_id === null ? {} : { agentId: row.agent_id }),
    ...(row.queued_at === null ? {} : { queuedAt: new Date(row.queued_at) }),
    ...(row.started_at === null ? {} : { startedAt: new Date(row.started_at) }),
    finishedAt: new Date(row.finished_at),
  };
}

function columns(changes: JobChanges): Updateable<JobsTable> {
  const set: Updateable<JobsTable> = {};
  if (changes.attempt !== undefined) set.attempt = changes.attempt;
  if (changes.taskId !== undefined) set.task_id = changes.taskId;
  if (changes.agentId !== undefined) set.agent_id = changes.agentId;
  if (changes.statusMessage !== undefined) set.status_message = changes.statusMessage;
  if (changes.exitCode !== undefined) set.exit_code = changes.exitCode;
  if (changes.reason !== undefined) set.reason = changes.reason;
  if (changes.usage !== undefined) {
    set.usage = changes.usage === null ? null : JSON.stringify(changes.usage);
  }
  return set;
}

function toJob(row: JobRow): Job {
  return {
    id: row.id,
    runId: row.run_id,
    key: row.key,
    state: row.state,
    plan: JSON.parse(row.plan) as unknown,
    attempt: row.attempt,
    ...(row.task_id === null ? {} : { taskId: row.task_id }),
    earlierTaskIds: row.earlier_task_ids === '' ? [] : row.earlier_task_ids.split(','),
    ...(row.agent_id === null ? {} : { agentId: row.agent_id }),
    ...(row.status_message === null ? {} : { statusMessage: row.status_message }),
    ...(row.exit_code === null ? {} : { exitCode: row.exit_code }),
    ...(row.reason === null ? {} : { reason: row.reason }),
    ...(row.usage === null ? {} : { usage: JSON.parse(row.usage) as JobUsage }),
    createdAt: new Date(row.created_at),
    ...(row.queued_at === null ? {} : { queuedAt: new Date(row.queued_at) }),
    ...(row.started_at === null ? {} : { startedAt: new Date(row.started_at) }),
    ...(row.finished_at === null ? {} : { finishedAt: new Date(row.finished_at) }),
  };
}
