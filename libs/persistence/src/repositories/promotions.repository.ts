import { Inject, Injectable, Optional } from '@nestjs/common';
import type { Selectable } from 'kysely';
import { randomUUID } from 'node:crypto';
import type { DatabaseConnection } from '../connect';
import { DATABASE } from '../database.token';
import { NO_RECORD_CHANGES, RECORD_CHANGES, type RecordChanges } from '../record-changes';
import type {
  PromotionDecision,
  PromotionDecisionsTable,
  PromotionState,
  PromotionsTable,
} from '../schema';

/** A request to deploy a run that passed to an environment, and what became of it. */
export interface Promotion {
  id: string;
  repositoryId: string;
  environmentId: string;
  /** The run promoted: a build that passed. */
  runId: string;
  /** The `promote` run deploying it, once started. */
  deployRunId?: string;
  state: PromotionState;
  /** The run is older than what was deployed when it was asked, and was deployed there before. */
  rollback: boolean;
  /** A user id. */
  requestedBy: string;
  comment?: string;
  requiredApprovals: number;
  statusMessage?: string;
  requestedAt: Date;
  /** While awaiting approval: when it expires. */
  expiresAt?: Date;
  startedAt?: Date;
  finishedAt?: Date;
}

export type NewPromotion = Pick<
  Promotion,
  | 'repositoryId'
  | 'environmentId'
  | 'runId'
  | 'state'
  | 'rollback'
  | 'requestedBy'
  | 'comment'
  | 'requiredApprovals'
  | 'expiresAt'
>;

/** One person's approval or rejection of a promotion. */
export interface PromotionDecisionRecord {
  promotionId: string;
  userId: string;
  decision: PromotionDecision;
  comment?: string;
  at: Date;
}

/** Promotions that have not ended: each environment has at most one `deploying`. */
export const ACTIVE_PROMOTION_STATES: readonly PromotionState[] = [
  'awaiting-approval',
  'queued',
  'deploying',
];

/** Promotions, their approvals, and the environments' deploy locks. */
@Injectable()
export class PromotionsRepository {
  constructor(
    @Inject(DATABASE) private readonly connection: DatabaseConnection,
    @Optional()
    @Inject(RECORD_CHANGES)
    private readonly changes: RecordChanges = NO_RECORD_CHANGES,
  ) {}

  async create(input: NewPromotion, now = new Date()): Promise<Promotion> {
    const row: Selectable<PromotionsTable> = {
      id: randomUUID(),
      repository_id: input.repositoryId,
      environment_id: input.environmentId,
      run_id: input.runId,
      deploy_run_id: null,
      state: input.state,
      rollback: input.rollback ? 1 : 0,
      requested_by: input.requestedBy,
      comment: input.comment ?? null,
      required_approvals: input.requiredApprovals,
      status_message: null,
      requested_at: now.toISOString(),
      expires_at: input.expiresAt?.toISOString() ?? null,
      started_at: null,
      finished_at: null,
    };
    await this.connection.db.insertInto('promotions').values(row).execute();
    const promotion = toPromotion(row);
    this.report(promotion);
    return promotion;
  }

  private report(promotion: Promotion, state: PromotionState = promotion.state): void {
    this.changes.changed({
      kind: 'promotion',
      id: promotion.id,
      repositoryId: promotion.repositoryId,
      runId: promotion.runId,
      state,
    });
  }

  async findById(id: string): Promise<Promotion | undefined> {
    const row = await this.connection.db
      .selectFrom('promotions')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toPromotion(row);
  }

  /** The promotion a `promote` run deploys. */
  async findByDeployRun(runId: string): Promise<Promotion | undefined> {
    const row = await this.connection.db
      .selectFrom('promotions')
      .selectAll()
      .where('deploy_run_id', '=', runId)
      .executeTakeFirst();
    return row && toPromotion(row);
  }

  /** An environment's promotions, newest first: its history. */
  async listByEnvironment(
    environmentId: string,
    options: { limit: number; before?: Promotion; states?: readonly PromotionState[] },
  ): Promise<Promotion[]> {
    let query = this.connection.db
      .selectFrom('promotions')
      .selectAll()
      .where('environment_id', '=', environmentId)
      .orderBy('requested_at', 'desc')
      .orderBy('id', 'desc')
      .limit(options.limit);
    const before = options.before;
    if (before !== undefined) {
      const at = before.requestedAt.toISOString();
      query = query.where((eb) =>
        eb.or([
          eb('requested_at', '<', at),
          eb.and([eb('requested_at', '=', at), eb('id', '<', before.id)]),
        ]),
      );
    }
    if (options.states !== undefined) query = query.where('state', 'in', options.states);
    return (await query.execute()).map(toPromotion);
  }

  /** Promotions in `states`, oldest first, optionally of some environments or runs only. */
  async listByState(
    states: readonly PromotionState[],
    filter: {
      environmentIds?: readonly string[];
      runId?: string;
      repositoryIds?: readonly string[];
    } = {},
  ): Promise<Promotion[]> {
    if (filter.environmentIds?.length === 0 || filter.repositoryIds?.length === 0) return [];
    let query = this.connection.db
      .selectFrom('promotions')
      .selectAll()
      .where('state', 'in', states)
      .orderBy('requested_at')
      .orderBy('id');
    if (filter.environmentIds !== undefined) {
      query = query.where('environment_id', 'in', filter.environmentIds);
    }
    if (filter.repositoryIds !== undefined) {
      query = query.where('repository_id', 'in', filter.repositoryIds);
    }
    if (filter.runId !== undefined) query = query.where('run_id', '=', filter.runId);
    return (await query.execute()).map(toPromotion);
  }

  /** The latest deployment to an environment that succeeded: what runs there now. */
  async current(environmentId: string): Promise<Promotion | undefined> {
    const row = await this.connection.db
      .selectFrom('promotions')
      .selectAll()
      .where('environment_id', '=', environmentId)
      .where('state', '=', 'deployed')
      .orderBy('finished_at', 'desc')
      .orderBy('id', 'desc')
      .executeTakeFirst();
    return row && toPromotion(row);
  }

  /**
   * The runs whose artifacts a repository still needs: those a promotion is about to deploy, and
   * every run ever deployed to one of its environments (what runs there now, and what a rollback
   * would deploy again). Retention never deletes these.
   */
  async runsInUse(repositoryId: string): Promise<Set<string>> {
    const rows = await this.connection.db
      .selectFrom('promotions')
      .select('run_id')
      .distinct()
      .where('repository_id', '=', repositoryId)
      .where('state', 'in', [...ACTIVE_PROMOTION_STATES, 'deployed'])
      .execute();
    return new Set(rows.map((row) => row.run_id));
  }

  /** The ids of the runs ever deployed (successfully) to an environment, of `runIds`. */
  async deployedRuns(environmentId: string, runIds?: readonly string[]): Promise<Set<string>> {
    if (runIds?.length === 0) return new Set();
    let query = this.connection.db
      .selectFrom('promotions')
      .select('run_id')
      .distinct()
      .where('environment_id', '=', environmentId)
      .where('state', '=', 'deployed');
    if (runIds !== undefined) query = query.where('run_id', 'in', runIds);
    return new Set((await query.execute()).map((row) => row.run_id));
  }

  /**
   * Moves a promotion from one of `from` to `to` (compare-and-set); answers it as it is now, or
   * undefined when it was in none of `from`. Ending states stamp `finished_at`.
   */
  async transition(
    id: string,
    from: readonly PromotionState[],
    to: PromotionState,
    extra: { statusMessage?: string | null; now?: Date } = {},
  ): Promise<Promotion | undefined> {
    const now = (extra.now ?? new Date()).toISOString();
    const result = await this.connection.db
      .updateTable('promotions')
      .set({
        state: to,
        ...(extra.statusMessage === undefined ? {} : { status_message: extra.statusMessage }),
        ...(ACTIVE_PROMOTION_STATES.includes(to) ? {} : { finished_at: now }),
      })
      .where('id', '=', id)
      .where('state', 'in', from)
      .executeTakeFirst();
    if (result.numUpdatedRows === 0n) return undefined;
    const promotion = await this.findById(id);
    if (promotion !== undefined) this.report(promotion);
    return promotion;
  }

  /**
   * Takes the environment's deploy lock for a queued promotion and marks it deploying, in one
   * transaction; false when another promotion holds the lock or this one is no longer queued.
   */
  async startDeploying(promotion: Promotion, now = new Date()): Promise<boolean> {
    return this.connection.db
      .transaction()
      .execute(async (tx) => {
        const locked = await tx
          .updateTable('environments')
          .set({ deploying_promotion_id: promotion.id })
          .where('id', '=', promotion.environmentId)
          .where('deploying_promotion_id', 'is', null)
          .executeTakeFirst();
        if (locked.numUpdatedRows === 0n) return false;
        const started = await tx
          .updateTable('promotions')
          .set({ state: 'deploying', started_at: now.toISOString(), status_message: null })
          .where('id', '=', promotion.id)
          .where('state', '=', 'queued')
          .executeTakeFirst();
        // Rolls the lock back with it: a promotion canceled meanwhile must not hold it.
        if (started.numUpdatedRows === 0n) throw new NotQueued();
        return true;
      })
      .then((started) => {
        if (started) this.report(promotion, 'deploying');
        return started;
      })
      .catch((error: unknown) => {
        if (error instanceof NotQueued) return false;
        throw error;
      });
  }

  /**
   * Records the promote run that deploys a promotion, once: false when the promotion is no
   * longer deploying (canceled meanwhile) or has a run already (another server was first).
   */
  async claimDeployRun(id: string, runId: string): Promise<boolean> {
    const claimed = await this.connection.db
      .updateTable('promotions')
      .set({ deploy_run_id: runId })
      .where('id', '=', id)
      .where('state', '=', 'deploying')
      .where('deploy_run_id', 'is', null)
      .returning(['repository_id', 'run_id'])
      .executeTakeFirst();
    if (claimed === undefined) return false;
    // The board links the deploy run from now on.
    this.changes.changed({
      kind: 'promotion',
      id,
      repositoryId: claimed.repository_id,
      runId: claimed.run_id,
      state: 'deploying',
    });
    return true;
  }

  /**
   * Ends a deploying promotion and releases its environment's lock, in one transaction; false
   * when it was not deploying (ended already).
   */
  async finishDeploying(
    promotion: Promotion,
    to: Extract<PromotionState, 'deployed' | 'failed' | 'canceled'>,
    statusMessage?: string,
    now = new Date(),
  ): Promise<boolean> {
    const ended = await this.connection.db.transaction().execute(async (tx) => {
      const ended = await tx
        .updateTable('promotions')
        .set({
          state: to,
          finished_at: now.toISOString(),
          ...(statusMessage === undefined ? {} : { status_message: statusMessage }),
        })
        .where('id', '=', promotion.id)
        .where('state', '=', 'deploying')
        .executeTakeFirst();
      await tx
        .updateTable('environments')
        .set({ deploying_promotion_id: null })
        .where('id', '=', promotion.environmentId)
        .where('deploying_promotion_id', '=', promotion.id)
        .execute();
      return ended.numUpdatedRows > 0n;
    });
    if (ended) this.report(promotion, to);
    return ended;
  }

  /**
   * Cancels a deploying promotion that has no deploy run yet and releases its lock, in one
   * transaction; false when it has one by now (cancel that run instead) or has ended.
   */
  async cancelBeforeRun(
    promotion: Promotion,
    statusMessage: string,
    now = new Date(),
  ): Promise<boolean> {
    const canceled = await this.connection.db.transaction().execute(async (tx) => {
      const canceled = await tx
        .updateTable('promotions')
        .set({ state: 'canceled', finished_at: now.toISOString(), status_message: statusMessage })
        .where('id', '=', promotion.id)
        .where('state', '=', 'deploying')
        .where('deploy_run_id', 'is', null)
        .executeTakeFirst();
      if (canceled.numUpdatedRows === 0n) return false;
      await tx
        .updateTable('environments')
        .set({ deploying_promotion_id: null })
        .where('id', '=', promotion.environmentId)
        .where('deploying_promotion_id', '=', promotion.id)
        .execute();
      return true;
    });
    if (canceled) this.report(promotion, 'canceled');
    return canceled;
  }

  /** Records one person's decision; false when they had decided on it already. */
  async decide(decision: Omit<PromotionDecisionRecord, 'at'>, now = new Date()): Promise<boolean> {
    const inserted = await this.connection.db
      .insertInto('promotion_decisions')
      .values({
        promotion_id: decision.promotionId,
        user_id: decision.userId,
        decision: decision.decision,
        comment: decision.comment ?? null,
        created_at: now.toISOString(),
      })
      .onConflict((oc) => oc.columns(['promotion_id', 'user_id']).doNothing())
      .executeTakeFirst();
    const decided = (inserted.numInsertedOrUpdatedRows ?? 0n) > 0n;
    if (decided) this.changes.changed({ kind: 'promotion', id: decision.promotionId });
    return decided;
  }

  /** The decisions on each of `promotionIds`, oldest first. */
  async decisions(
    promotionIds: readonly string[],
  ): Promise<Map<string, PromotionDecisionRecord[]>> {
    const byPromotion = new Map<string, PromotionDecisionRecord[]>();
    if (promotionIds.length === 0) return byPromotion;
    const rows = await this.connection.db
      .selectFrom('promotion_decisions')
      .selectAll()
      .where('promotion_id', 'in', promotionIds)
      .orderBy('created_at')
      .execute();
    for (const row of rows) {
      const list = byPromotion.get(row.promotion_id) ?? [];
      list.push(toDecision(row));
      byPromotion.set(row.promotion_id, list);
    }
    return byPromotion;
  }
}

class NotQueued extends Error {}

function toPromotion(row: Selectable<PromotionsTable>): Promotion {
  return {
    id: row.id,
    repositoryId: row.repository_id,
    environmentId: row.environment_id,
    runId: row.run_id,
    ...(row.deploy_run_id === null ? {} : { deployRunId: row.deploy_run_id }),
    state: row.state,
    rollback: row.rollback !== 0,
    requestedBy: row.requested_by,
    ...(row.comment === null ? {} : { comment: row.comment }),
    requiredApprovals: row.required_approvals,
    ...(row.status_message === null ? {} : { statusMessage: row.status_message }),
    requestedAt: new Date(row.requested_at),
    ...(row.expires_at === null ? {} : { expiresAt: new Date(row.expires_at) }),
    ...(row.started_at === null ? {} : { startedAt: new Date(row.started_at) }),
    ...(row.finished_at === null ? {} : { finishedAt: new Date(row.finished_at) }),
  };
}

function toDecision(row: Selectable<PromotionDecisionsTable>): PromotionDecisionRecord {
  return {
    promotionId: row.promotion_id,
    userId: row.user_id,
    decision: row.decision,
    ...(row.comment === null ? {} : { comment: row.comment }),
    at: new Date(row.created_at),
  };
}
