import { Inject, Injectable, Optional } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { DatabaseConnection } from '../connect';
import { DATABASE } from '../database.token';
import { NO_RECORD_CHANGES, RECORD_CHANGES, type RecordChanges } from '../record-changes';
import type { Kysely } from 'kysely';
import type { Database, Forge, JobState, RunEvent, RunRow, RunState } from '../schema';

export interface NewRun {
  repositoryId: string;
  event: RunEvent;
  ref: string;
  branch?: string;
  tag?: string;
  sha: string;
  message?: string;
  /** The commit's author. */
  author?: string;
  /** The user who started it by hand (a manual run). */
  startedBy?: string;
  pullRequest?: number;
  fromFork: boolean;
  changedFiles?: string[];
  rerunOf?: string;
  /** A promote run: the environment it deploys to. */
  environment?: string;
  /** A promote run: the run whose commit and artifacts it deploys. */
  promotedRunId?: string;
}

export interface Run extends Omit<NewRun, 'rerunOf'> {
  id: string;
  number: number;
  state: RunState;
  errors?: string[];
  rerunOf?: string;
  /** When artifact retention deleted its artifacts. */
  artifactsDeletedAt?: Date;
  createdAt: Date;
  startedAt?: Date;
  finishedAt?: Date;
}

/** The webhook delivery a run comes from: recorded with it, so a redelivery creates nothing. */
export interface Delivery {
  forge: Forge;
  deliveryId: string;
  event: string;
}

export type CreateRunResult = { run: Run } | { duplicateOf: string | undefined };

/** One run for {@link RunsRepository.createAll}, with the webhook delivery it comes from. */
export interface RunToCreate {
  input: NewRun;
  delivery?: Delivery;
}

/** A page of a repository's runs, newest first, optionally filtered (all filters must hold). */
export interface RunListOptions {
  limit: number;
  /** A run number: only runs before it (the `next` of the previous page). */
  before?: number;
  branch?: string;
  event?: RunEvent;
  state?: RunState;
  author?: string;
}

export interface RunPage {
  runs: Run[];
  /** Pass as `before` for the next (older) page; absent on the last page. */
  next?: number;
}

/** A job as the trigger worker inserts it with its run. */
export interface NewJob {
  key: string;
  state: Extract<JobState, 'blocked' | 'queued' | 'skipped'>;
  /** The compiled plan job, stored as JSON. */
  plan: unknown;
  statusMessage?: string;
}

export const TERMINAL_RUN_STATES: readonly RunState[] = ['success', 'failure', 'error', 'canceled'];

/** Runs, the webhook deliveries that created them, and run numbers. */
@Injectable()
export class RunsRepository {
  constructor(
    @Inject(DATABASE) private readonly connection: DatabaseConnection,
    @Optional()
    @Inject(RECORD_CHANGES)
    private readonly changes: RecordChanges = NO_RECORD_CHANGES,
  ) {}

  /**
   * Creates a run in state `pending` with the next number of its repository. With a delivery, the
   * delivery is recorded in the same transaction: a delivery seen before creates nothing and
   * returns the run it created then.
   */
  async create(input: NewRun, delivery?: Delivery, now = new Date()): Promise<CreateRunResult> {
    const [result] = await this.createAll(
      [{ input, ...(delivery === undefined ? {} : { delivery }) }],
      now,
    );
    if (result === undefined) throw new Error('a run to create got no answer');
    return result;
  }

  /**
   * {@link create} for several runs in one transaction, with a few statements for all of them
   * (a burst of webhooks commits a batch at a time): answers in the order given. Runs of one
   * repository are numbered in that order; a delivery given twice creates one run, the other
   * answer names it. Should anything fail, nothing is recorded and this rejects.
   */
  async createAll(
    entries: ReadonlyArray<RunToCreate>,
    now = new Date(),
  ): Promise<CreateRunResult[]> {
    const results = await this.connection.db
      .transaction()
      .execute((tx) => insertAll(tx, entries, now));
    for (const result of results) {
      if (!('run' in result)) continue;
      const { run } = result;
      this.changes.changed({
        kind: 'run',
        id: run.id,
        repositoryId: run.repositoryId,
        state: run.state,
      });
    }
    return results;
  }

  async findById(id: string): Promise<Run | undefined> {
    const row = await this.connection.db
      .selectFrom('runs')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toRun(row);
  }

  async findByNumber(repositoryId: string, number: number): Promise<Run | undefined> {
    const row = await this.connection.db
      .selectFrom('runs')
      .selectAll()
      .where('repository_id', '=', repositoryId)
      .where('number', '=', number)
      .executeTakeFirst();
    return row && toRun(row);
  }

  /** A repository's runs, newest first, `limit` at a time. */
  async list(repositoryId: string, options: RunListOptions): Promise<RunPage> {
    let query = this.connection.db
      .selectFrom('runs')
      .selectAll()
      .where('repository_id', '=', repositoryId)
      .orderBy('number', 'desc')
      .limit(options.limit + 1);
    if (options.before !== undefined) query = query.where('number', '<', options.before);
    if (options.branch !== undefined) query = query.where('branch', '=', options.branch);
    if (options.event !== undefined) query = query.where('event', '=', options.event);
    if (options.state !== undefined) query = query.where('state', '=', options.state);
    if (options.author !== undefined) query = query.where('author', '=', options.author);
    const rows = await query.execute();
    const runs = rows.slice(0, options.limit).map(toRun);
    const last = runs.at(-1);
    return rows.length > options.limit && last !== undefined
      ? { runs, next: last.number }
      : { runs };
  }

  /** Runs in the given states, oldest first: what a restarted server must pick up again. */
  async listByState(states: readonly RunState[]): Promise<Run[]> {
    const rows = await this.connection.db
      .selectFrom('runs')
      .selectAll()
      .where('state', 'in', states)
      .orderBy('created_at')
      .execute();
    return rows.map(toRun);
  }

  /** The unfinished runs of a pull request, but `exceptId`: what a new push to it supersedes. */
  async listActiveForPullRequest(
    repositoryId: string,
    pullRequest: number,
    exceptId: string,
  ): Promise<Run[]> {
    const rows = await this.connection.db
      .selectFrom('runs')
      .selectAll()
      .where('repository_id', '=', repositoryId)
      .where('pull_request', '=', pullRequest)
      .where('state', 'in', ['pending', 'running'])
      .where('id', '!=', exceptId)
      .execute();
    return rows.map(toRun);
  }

  /**
   * Moves a run from one of `from` to `to` (compare-and-set: of two concurrent transitions one
   * wins); answers the run as it is now, or undefined when it was in none of `from`.
   */
  async transition(
    id: string,
    from: readonly RunState[],
    to: RunState,
    extra: { errors?: string[]; now?: Date } = {},
  ): Promise<Run | undefined> {
    const now = (extra.now ?? new Date()).toISOString();
    const terminal = TERMINAL_RUN_STATES.includes(to);
    const result = await this.connection.db
      .updateTable('runs')
      .set((eb) => ({
        state: to,
        ...(extra.errors === undefined ? {} : { errors: JSON.stringify(extra.errors) }),
        ...(to === 'running'
          ? { started_at: eb.fn.coalesce('started_at', eb.val(now)), finished_at: null }
          : {}),
        ...(terminal ? { finished_at: now } : {}),
      }))
      .where('id', '=', id)
      .where('state', 'in', from)
      .executeTakeFirst();
    if (result.numUpdatedRows === 0n) return undefined;
    const run = await this.findById(id);
    if (run !== undefined) {
      this.changes.changed({ kind: 'run', id, repositoryId: run.repositoryId, state: run.state });
    }
    return run;
  }

  /**
   * Removes a run that never left `pending` (its trigger could not be queued), and the delivery
   * that created it, so a retry of the request or of the delivery creates it anew. False when
   * the run has moved on meanwhile: then it was queued after all and stays.
   */
  async discardPending(id: string): Promise<boolean> {
    return this.connection.db
      .transaction()
      .execute(async (tx) => {
        await tx.deleteFrom('webhook_deliveries').where('run_id', '=', id).execute();
        const deleted = await tx
          .deleteFrom('runs')
          .where('id', '=', id)
          .where('state', '=', 'pending')
          .executeTakeFirst();
        if (deleted.numDeletedRows > 0n) return true;
        // Keep the delivery of a run that stays: roll the transaction back.
        throw new RunMovedOn();
      })
      .catch((error: unknown) => {
        if (error instanceof RunMovedOn) return false;
        throw error;
      });
  }

  /** Records that artifact retention deleted the run's artifacts. */
  async markArtifactsDeleted(id: string, now = new Date()): Promise<void> {
    const marked = await this.connection.db
      .updateTable('runs')
      .set({ artifacts_deleted_at: now.toISOString() })
      .where('id', '=', id)
      .returning(['repository_id', 'state'])
      .executeTakeFirst();
    if (marked !== undefined) {
      this.changes.changed({
        kind: 'run',
        id,
        repositoryId: marked.repository_id,
        state: marked.state,
      });
    }
  }

  /**
   * Starts a pending run with its jobs, atomically: either the run is `running` with all its jobs,
   * or nothing changed (it was not pending any more: canceled, or started by a redelivery).
   */
  async start(id: string, jobs: NewJob[], now = new Date()): Promise<boolean> {
    const repositoryId = await this.connection.db.transaction().execute(async (tx) => {
      const started = await tx
        .updateTable('runs')
        .set({ state: 'running', started_at: now.toISOString() })
        .where('id', '=', id)
        .where('state', '=', 'pending')
        .returning('repository_id')
        .executeTakeFirst();
      if (started === undefined) return undefined;
      if (jobs.length > 0) {
        await tx
          .insertInto('jobs')
          .values(
            jobs.map((job, position) => ({
              id: randomUUID(),
              run_id: id,
              key: job.key,
              position,
              state: job.state,
              plan: JSON.stringify(job.plan),
              attempt: job.state === 'skipped' ? 0 : 1,
              status_message: job.statusMessage ?? null,
              created_at: now.toISOString(),
              queued_at: job.state === 'queued' ? now.toISOString() : null,
              finished_at: job.state === 'skipped' ? now.toISOString() : null,
            })),
          )
          .execute();
      }
      return started.repository_id;
    });
    if (repositoryId === undefined) return false;
    this.changes.changed({ kind: 'run', id, repositoryId, state: 'running' });
    return true;
  }
}

function toRun(row: RunRow): Run {
  return {
    id: row.id,
    repositoryId: row.repository_id,
    number: row.number,
    state: row.state,
    event: row.event,
    ref: row.ref,
    ...(row.branch === null ? {} : { branch: row.branch }),
    ...(row.tag === null ? {} : { tag: row.tag }),
    sha: row.sha,
    ...(row.message === null ? {} : { message: row.message }),
    ...(row.author === null ? {} : { author: row.author }),
    ...(row.started_by === null ? {} : { startedBy: row.started_by }),
    ...(row.pull_request === null ? {} : { pullRequest: row.pull_request }),
    fromFork: row.from_fork !== 0,
    ...(row.changed_files === null
      ? {}
      : { changedFiles: JSON.parse(row.changed_files) as string[] }),
    ...(row.errors === null ? {} : { errors: JSON.parse(row.errors) as string[] }),
    ...(row.rerun_of === null ? {} : { rerunOf: row.rerun_of }),
    ...(row.environment === null ? {} : { environment: row.environment }),
    ...(row.promoted_run_id === null ? {} : { promotedRunId: row.promoted_run_id }),
    ...(row.artifacts_deleted_at === null
      ? {}
      : { artifactsDeletedAt: new Date(row.artifacts_deleted_at) }),
    createdAt: new Date(row.created_at),
    ...(row.started_at === null ? {} : { startedAt: new Date(row.started_at) }),
    ...(row.finished_at === null ? {} : { finishedAt: new Date(row.finished_at) }),
  };
}

/** Rolls back {@link RunsRepository.discardPending} when the run is no longer pending. */
class RunMovedOn extends Error {}

/** Where a delivery is known by its forge and id. */
const deliveryKey = (delivery: Delivery): string => `${delivery.forge}\u0000${delivery.deliveryId}`;

/**
 * The writes of {@link RunsRepository.createAll}: the new deliveries (those seen before are
 * left alone), the counter of each repository moved on by its new runs, and the runs, each a
 * statement or two for the whole batch.
 */
async function insertAll(
  tx: Kysely<Database>,
  entries: ReadonlyArray<RunToCreate>,
  now: Date,
): Promise<CreateRunResult[]> {
  const ids = entries.map(() => randomUUID());
  // The first of a batch's entries with a delivery speaks for the others with the same one.
  const firstWith = new Map<string, number>();
  entries.forEach(({ delivery }, i) => {
    if (delivery !== undefined && !firstWith.has(deliveryKey(delivery))) {
      firstWith.set(deliveryKey(delivery), i);
    }
  });
  // In the order of their keys: two servers' batches then take the deliveries' index entries
  // (PostgreSQL) in the same order, and never wait for each other in a cycle.
  const firsts = [...firstWith.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, i]) => i);
  const recorded = new Set<string>();
  if (firsts.length > 0) {
    const rows = await tx
      .insertInto('webhook_deliveries')
      .values(
        firsts.map((i) => {
          const { input, delivery } = entries[i] as Required<RunToCreate>;
          return {
            forge: delivery.forge,
            delivery_id: delivery.deliveryId,
            repository_id: input.repositoryId,
            event: delivery.event,
            run_id: ids[i] ?? null,
            received_at: now.toISOString(),
          };
        }),
      )
      .onConflict((oc) => oc.columns(['forge', 'delivery_id']).doNothing())
      .returning(['forge', 'delivery_id'])
      .execute();
    for (const row of rows) recorded.add(`${row.forge}\u0000${row.delivery_id}`);
  }
  // Deliveries seen before this batch: the runs they created then.
  const earlier = new Map<string, string | undefined>();
  const seen = firsts
    .map((i) => entries[i]?.delivery)
    .filter((d): d is Delivery => d !== undefined && !recorded.has(deliveryKey(d)));
  if (seen.length > 0) {
    const rows = await tx
      .selectFrom('webhook_deliveries')
      .select(['forge', 'delivery_id', 'run_id'])
      .where((eb) =>
        eb.or(
          seen.map((d) =>
            eb.and([eb('forge', '=', d.forge), eb('delivery_id', '=', d.deliveryId)]),
          ),
        ),
      )
      .execute();
    for (const row of rows) {
      earlier.set(`${row.forge}\u0000${row.delivery_id}`, row.run_id ?? undefined);
    }
  }
  const creates = entries.map(
    ({ delivery }, i) =>
      delivery === undefined ||
      (firstWith.get(deliveryKey(delivery)) === i && recorded.has(deliveryKey(delivery))),
  );
  // Each repository's counter moves once for all its new runs, in a fixed order of repositories
  // so that two batches never wait for each other's locks (PostgreSQL) in a cycle.
  const perRepository = new Map<string, number>();
  entries.forEach(({ input }, i) => {
    if (creates[i])
      perRepository.set(input.repositoryId, (perRepository.get(input.repositoryId) ?? 0) + 1);
  });
  const nextNumber = new Map<string, number>();
  for (const repositoryId of [...perRepository.keys()].sort()) {
    const count = perRepository.get(repositoryId) ?? 0;
    // The row lock of this update serializes concurrent runs of one repository on PostgreSQL.
    const counter = await tx
      .updateTable('repositories')
      .set((eb) => ({ run_counter: eb('run_counter', '+', count) }))
      .where('id', '=', repositoryId)
      .returning('run_counter')
      .executeTakeFirstOrThrow();
    nextNumber.set(repositoryId, counter.run_counter - count + 1);
  }
  const rows: RunRow[] = [];
  const results: (CreateRunResult | undefined)[] = entries.map(({ input }, i) => {
    if (!creates[i]) return undefined;
    const number = nextNumber.get(input.repositoryId) ?? 0;
    nextNumber.set(input.repositoryId, number + 1);
    const row = newRunRow(ids[i] ?? randomUUID(), number, input, now);
    rows.push(row);
    return { run: toRun(row) };
  });
  if (rows.length > 0) await tx.insertInto('runs').values(rows).execute();
  return entries.map(({ delivery }, i) => {
    const result = results[i];
    if (result !== undefined) return result;
    if (delivery === undefined) throw new Error('a run without a delivery was not created');
    const first = firstWith.get(deliveryKey(delivery)) ?? i;
    const created = results[first];
    if (created !== undefined && 'run' in created) return { duplicateOf: created.run.id };
    return { duplicateOf: earlier.get(deliveryKey(delivery)) };
  });
}

function newRunRow(id: string, number: number, input: NewRun, now: Date): RunRow {
  return {
    id,
    repository_id: input.repositoryId,
    number,
    state: 'pending',
    event: input.event,
    ref: input.ref,
    branch: input.branch ?? null,
    tag: input.tag ?? null,
    sha: input.sha,
    message: input.message ?? null,
    author: input.author ?? null,
    started_by: input.startedBy ?? null,
    pull_request: input.pullRequest ?? null,
    from_fork: input.fromFork ? 1 : 0,
    changed_files: input.changedFiles === undefined ? null : JSON.stringify(input.changedFiles),
    errors: null,
    rerun_of: input.rerunOf ?? null,
    environment: input.environment ?? null,
    promoted_run_id: input.promotedRunId ?? null,
    artifacts_deleted_at: null,
    created_at: now.toISOString(),
    started_at: null,
    finished_at: null,
  };
}
