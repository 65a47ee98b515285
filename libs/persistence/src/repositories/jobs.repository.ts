import { Inject, Injectable } from '@nestjs/common';
import { sql, type Updateable } from 'kysely';
import type { DatabaseConnection } from '../connect';
import { DATABASE } from '../database.token';
import type { JobRow, JobState, JobsTable } from '../schema';

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

/** What a transition may record besides the state; `null` clears a value. */
export interface JobChanges {
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

/** A run's jobs and their state machine (blocked → queued → running → an end). */
@Injectable()
export class JobsRepository {
  constructor(@Inject(DATABASE) private readonly connection: DatabaseConnection) {}

  async findById(id: string): Promise<Job | undefined> {
    const row = await this.connection.db
      .selectFrom('jobs')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toJob(row);
  }

  async findByTaskId(taskId: string): Promise<Job | undefined> {
    const row = await this.connection.db
      .selectFrom('jobs')
      .selectAll()
      .where('task_id', '=', taskId)
      .executeTakeFirst();
    return row && toJob(row);
  }

  /** A run's jobs in the order they were compiled (dependencies first). */
  async listByRun(runId: string): Promise<Job[]> {
    const rows = await this.connection.db
      .selectFrom('jobs')
      .selectAll()
      .where('run_id', '=', runId)
      .orderBy('position')
      .execute();
    return rows.map(toJob);
  }

  async listByState(states: readonly JobState[]): Promise<Job[]> {
    const rows = await this.connection.db
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
    let query = this.connection.db
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
    let query = this.connection.db
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
      .where('state', 'in', from);
    if (attempt !== undefined) query = query.where('attempt', '=', attempt);
    const result = await query.executeTakeFirst();
    if (result.numUpdatedRows === 0n) return undefined;
    return this.findById(id);
  }

  /**
   * Records the task about to be launched for a queued job's attempt, before the launch, so a
   * restarted server knows what to reconcile. Only one task per attempt: false if the job has one
   * already, moved on, or is at another attempt.
   */
  async assignTask(id: string, attempt: number, taskId: string): Promise<boolean> {
    const result = await this.connection.db
      .updateTable('jobs')
      .set({ task_id: taskId })
      .where('id', '=', id)
      .where('attempt', '=', attempt)
      .where('state', '=', 'queued')
      .where('task_id', 'is', null)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** Forgets a task that was never launched (the cluster does not know it): launch anew. */
  async releaseTask(id: string, taskId: string): Promise<boolean> {
    const result = await this.connection.db
      .updateTable('jobs')
      .set({ task_id: null })
      .where('id', '=', id)
      .where('task_id', '=', taskId)
      .where('state', '=', 'queued')
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** Sets why a queued job waits (for people), without a state change. */
  async setStatusMessage(id: string, message: string | null): Promise<void> {
    await this.connection.db
      .updateTable('jobs')
      .set({ status_message: message })
      .where('id', '=', id)
      .execute();
  }
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
