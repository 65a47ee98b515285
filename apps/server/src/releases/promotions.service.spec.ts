import { strict } from '@kiln/common/testing';
import {
  AccountsRepository,
  ACTIVE_PROMOTION_STATES,
  EnvironmentsRepository,
  PromotionsRepository,
  RunsRepository,
  type CreateRunResult,
  type Environment,
  type NewPromotion,
  type NewRun,
  type Promotion,
  type PromotionDecisionRecord,
  type PromotionState,
  type Run,
  type RunState,
  type User,
} from '@kiln/persistence';
import { ConflictException, HttpException, Logger } from '@nestjs/common';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AuditLog } from '../audit/audit-log';
import { PipelineQueues } from '../runs/pipeline-queues';
import { RunsService } from '../runs/runs.service';
import { PromotionViews } from './promotion-views';
import { PromotionsService } from './promotions.service';
import type { PromotionResponse } from './releases.dto';

/** The environments table in memory; the deploy lock is changed by FakePromotions. */
class FakeEnvironments {
  readonly rows = new Map<string, Environment>();

  add(environment: Environment): void {
    this.rows.set(environment.id, structuredClone(environment));
  }

  get(id: string): Environment {
    const environment = this.rows.get(id);
    if (environment === undefined) throw new Error(`no environment ${id}`);
    return structuredClone(environment);
  }

  findById(id: string): Promise<Environment | undefined> {
    return Promise.resolve(this.rows.has(id) ? this.get(id) : undefined);
  }

  findByName(repositoryId: string, name: string): Promise<Environment | undefined> {
    const environment = [...this.rows.values()].find(
      (e) => e.repositoryId === repositoryId && e.name === name,
    );
    return Promise.resolve(environment && structuredClone(environment));
  }

  list(repositoryId: string): Promise<Environment[]> {
    return Promise.resolve(
      [...this.rows.values()]
        .filter((e) => e.repositoryId === repositoryId)
        .map((e) => structuredClone(e)),
    );
  }
}

/**
 * The promotions and decisions tables in memory, with the compare-and-set semantics of
 * PromotionsRepository: the deploy lock lives on the environments it is given.
 */
class FakePromotions {
  readonly rows = new Map<string, Promotion>();
  readonly decided: PromotionDecisionRecord[] = [];
  private created = 0;

  constructor(private readonly environments: FakeEnvironments) {}

  add(promotion: Promotion): void {
    this.rows.set(promotion.id, structuredClone(promotion));
  }

  get(id: string): Promotion {
    const promotion = this.rows.get(id);
    if (promotion === undefined) throw new Error(`no promotion ${id}`);
    return structuredClone(promotion);
  }

  create(input: NewPromotion, now = new Date()): Promise<Promotion> {
    this.created += 1;
    const promotion: Promotion = { ...input, id: `created-${this.created}`, requestedAt: now };
    this.add(promotion);
    return Promise.resolve(this.get(promotion.id));
  }

  findById(id: string): Promise<Promotion | undefined> {
    return Promise.resolve(this.rows.has(id) ? this.get(id) : undefined);
  }

  findByDeployRun(runId: string): Promise<Promotion | undefined> {
    const promotion = [...this.rows.values()].find((p) => p.deployRunId === runId);
    return Promise.resolve(promotion && structuredClone(promotion));
  }

  listByState(
    states: readonly PromotionState[],
    filter: { environmentIds?: readonly string[]; runId?: string } = {},
  ): Promise<Promotion[]> {
    return Promise.resolve(
      [...this.rows.values()]
        .filter((p) => states.includes(p.state))
        .filter((p) => filter.environmentIds?.includes(p.environmentId) ?? true)
        .filter((p) => filter.runId === undefined || p.runId === filter.runId)
        .sort(
          (a, b) => a.requestedAt.getTime() - b.requestedAt.getTime() || a.id.localeCompare(b.id),
        )
        .map((p) => structuredClone(p)),
    );
  }

  current(environmentId: string): Promise<Promotion | undefined> {
    const [latest] = [...this.rows.values()]
      .filter((p) => p.environmentId === environmentId && p.state === 'deployed')
      .sort((a, b) => (b.finishedAt?.getTime() ?? 0) - (a.finishedAt?.getTime() ?? 0));
    return Promise.resolve(latest && structuredClone(latest));
  }

  deployedRuns(environmentId: string, runIds?: readonly string[]): Promise<Set<string>> {
    return Promise.resolve(
      new Set(
        [...this.rows.values()]
          .filter((p) => p.environmentId === environmentId && p.state === 'deployed')
          .map((p) => p.runId)
          .filter((id) => runIds?.includes(id) ?? true),
      ),
    );
  }

  transition(
    id: string,
    from: readonly PromotionState[],
    to: PromotionState,
    extra: { statusMessage?: string | null; now?: Date } = {},
  ): Promise<Promotion | undefined> {
    const promotion = this.rows.get(id);
    if (promotion === undefined || !from.includes(promotion.state)) {
      return Promise.resolve(undefined);
    }
    promotion.state = to;
    if (extra.statusMessage === null) delete promotion.statusMessage;
    else if (extra.statusMessage !== undefined) promotion.statusMessage = extra.statusMessage;
    if (!ACTIVE_PROMOTION_STATES.includes(to)) promotion.finishedAt = extra.now ?? new Date();
    return Promise.resolve(this.get(id));
  }

  startDeploying(next: Promotion, now = new Date()): Promise<boolean> {
    const environment = this.environments.rows.get(next.environmentId);
    const promotion = this.rows.get(next.id);
    // One transaction in the database: neither changes unless both can.
    if (environment === undefined || environment.deployingPromotionId !== undefined) {
      return Promise.resolve(false);
    }
    if (promotion?.state !== 'queued') return Promise.resolve(false);
    environment.deployingPromotionId = promotion.id;
    promotion.state = 'deploying';
    promotion.startedAt = now;
    delete promotion.statusMessage;
    return Promise.resolve(true);
  }

  claimDeployRun(id: string, runId: string): Promise<boolean> {
    const promotion = this.rows.get(id);
    const ok = promotion?.state === 'deploying' && promotion.deployRunId === undefined;
    if (ok) promotion.deployRunId = runId;
    return Promise.resolve(ok);
  }

  cancelBeforeRun(ended: Promotion, statusMessage: string, now = new Date()): Promise<boolean> {
    const promotion = this.rows.get(ended.id);
    // One transaction in the database: the lock goes only with a promotion that had no run.
    if (promotion?.state !== 'deploying' || promotion.deployRunId !== undefined) {
      return Promise.resolve(false);
    }
    promotion.state = 'canceled';
    promotion.finishedAt = now;
    promotion.statusMessage = statusMessage;
    const environment = this.environments.rows.get(ended.environmentId);
    if (environment?.deployingPromotionId === ended.id) delete environment.deployingPromotionId;
    return Promise.resolve(true);
  }

  finishDeploying(
    ended: Promotion,
    to: 'deployed' | 'failed' | 'canceled',
    statusMessage?: string,
    now = new Date(),
  ): Promise<boolean> {
    const promotion = this.rows.get(ended.id);
    const ok = promotion?.state === 'deploying';
    if (ok) {
      promotion.state = to;
      promotion.finishedAt = now;
      if (statusMessage !== undefined) promotion.statusMessage = statusMessage;
    }
    const environment = this.environments.rows.get(ended.environmentId);
    if (environment?.deployingPromotionId === ended.id) delete environment.deployingPromotionId;
    return Promise.resolve(ok);
  }

  decide(decision: Omit<PromotionDecisionRecord, 'at'>, now = new Date()): Promise<boolean> {
    if (
      this.decided.some(
        (d) => d.promotionId === decision.promotionId && d.userId === decision.userId,
      )
    ) {
      return Promise.resolve(false);
    }
    this.decided.push({ ...decision, at: now });
    return Promise.resolve(true);
  }

  decisions(promotionIds: readonly string[]): Promise<Map<string, PromotionDecisionRecord[]>> {
    const byPromotion = new Map<string, PromotionDecisionRecord[]>();
    for (const decision of this.decided.filter((d) => promotionIds.includes(d.promotionId))) {
      byPromotion.set(decision.promotionId, [
        ...(byPromotion.get(decision.promotionId) ?? []),
        structuredClone(decision),
      ]);
    }
    return Promise.resolve(byPromotion);
  }
}

/** The runs table in memory: `findById`, `create` (pending, the next number) and `transition`. */
class FakeRuns {
  readonly rows = new Map<string, Run>();

  add(run: Run): void {
    this.rows.set(run.id, structuredClone(run));
  }

  get(id: string): Run {
    const run = this.rows.get(id);
    if (run === undefined) throw new Error(`no run ${id}`);
    return structuredClone(run);
  }

  findById(id: string): Promise<Run | undefined> {
    return Promise.resolve(this.rows.has(id) ? this.get(id) : undefined);
  }

  create(input: NewRun): Promise<CreateRunResult> {
    const number = Math.max(0, ...[...this.rows.values()].map((r) => r.number)) + 1;
    const run: Run = {
      ...input,
      id: `deploy-run-${number}`,
      number,
      state: 'pending',
      createdAt: new Date(),
    };
    this.add(run);
    return Promise.resolve({ run: this.get(run.id) });
  }

  transition(
    id: string,
    from: readonly RunState[],
    to: RunState,
    extra: { errors?: string[] } = {},
  ): Promise<Run | undefined> {
    const run = this.rows.get(id);
    if (run === undefined || !from.includes(run.state)) return Promise.resolve(undefined);
    run.state = to;
    if (extra.errors !== undefined) run.errors = extra.errors;
    return Promise.resolve(this.get(id));
  }
}

const NOW = new Date('2030-01-01T12:00:00.000Z');
const REPO = 'repo-1';
const STAGING = 'env-staging';
const PRODUCTION = 'env-production';

const alice = { userId: 'user-alice', username: 'alice' };
const bob = { userId: 'user-bob', username: 'bob' };
const carol = { userId: 'user-carol', username: 'carol' };

/** A build of main that passed, numbered `number`. */
function build(number: number, overrides: Partial<Run> = {}): Run {
  return {
    id: `run-${number}`,
    repositoryId: REPO,
    number,
    state: 'success',
    event: 'push',
    ref: 'refs/heads/main',
    branch: 'main',
    sha: String(number).repeat(40).slice(0, 40),
    message: `commit ${number}`,
    fromFork: false,
    createdAt: NOW,
    ...overrides,
  };
}

type HttpFailure = { status: number; message: string };

/** How `promise` fails, as an HTTP answer; fails the test when it does not fail that way. */
async function httpFailure(promise: Promise<unknown>): Promise<HttpFailure> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof HttpException)) {
    throw new Error(`expected an HttpException, got ${String(error)}`);
  }
  return { status: error.getStatus(), message: error.message };
}

describe(PromotionsService.name, () => {
  let environments: FakeEnvironments;
  let promotions: FakePromotions;
  let runs: FakeRuns;
  let runsService: { cancel: ReturnType<typeof vi.fn<RunsService['cancel']>> };
  let queues: {
    ready: ReturnType<typeof vi.fn<PipelineQueues['ready']>>;
    trigger: ReturnType<typeof vi.fn<PipelineQueues['trigger']>>;
    expirePromotion: ReturnType<typeof vi.fn<PipelineQueues['expirePromotion']>>;
  };
  let audit: { record: ReturnType<typeof vi.fn<AuditLog['record']>> };
  /** For each trigger queued: the run, and the deploy run its promotion had claimed by then. */
  let triggered: { runId: string; claimedBy: string | undefined }[];
  let service: PromotionsService;

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(NOW);
    vi.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    vi.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);

    environments = new FakeEnvironments();
    promotions = new FakePromotions(environments);
    runs = new FakeRuns();
    triggered = [];
    runsService = {
      // RunsService's contract as the promotion sees it: a compare-and-set on the run.
      cancel: vi.fn<RunsService['cancel']>(async (runId) => {
        const run = runs.get(runId);
        if ((await runs.transition(runId, ['pending', 'running'], 'canceled')) === undefined) {
          throw new ConflictException(`run #${run.number} has already ended (${run.state})`);
        }
        return { ...runs.get(runId), jobs: [] };
      }),
    };
    queues = {
      ready: vi.fn<PipelineQueues['ready']>().mockResolvedValue(true),
      trigger: vi.fn<PipelineQueues['trigger']>((runId) => {
        triggered.push({
          runId,
          claimedBy: [...promotions.rows.values()].find((p) => p.deployRunId === runId)?.id,
        });
        return Promise.resolve();
      }),
      expirePromotion: vi.fn<PipelineQueues['expirePromotion']>().mockResolvedValue(undefined),
    };
    audit = { record: vi.fn<AuditLog['record']>().mockResolvedValue(undefined) };
    const users = new Map<string, User>(
      [alice, bob, carol].map((a) => [
        a.userId,
        { id: a.userId, username: a.username, isAdmin: false, createdAt: NOW },
      ]),
    );
    service = new PromotionsService(
      strict<PromotionsRepository>('PromotionsRepository', promotions),
      strict<EnvironmentsRepository>('EnvironmentsRepository', environments),
      strict<RunsRepository>('RunsRepository', runs),
      strict<AccountsRepository>('AccountsRepository', {
        findUser: (id: string) => Promise.resolve(users.get(id)),
      }),
      strict<RunsService>('RunsService', runsService),
      strict<PipelineQueues>('PipelineQueues', queues),
      strict<AuditLog>('AuditLog', audit),
      strict<PromotionViews>('PromotionViews', {
        one: (promotion: Promotion) =>
          Promise.resolve({ id: promotion.id, state: promotion.state } as PromotionResponse),
      }),
    );

    environments.add({
      id: STAGING,
      repositoryId: REPO,
      name: 'staging',
      requiredApprovals: 0,
      approvalTimeoutMinutes: 60,
      createdAt: NOW,
    });
    environments.add({
      id: PRODUCTION,
      repositoryId: REPO,
      name: 'production',
      requiredApprovals: 2,
      approvalTimeoutMinutes: 30,
      createdAt: NOW,
    });
    runs.add(build(5));
    runs.add(build(7));
  });

  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  /** A promotion of `runId` asked by alice `minutesAgo` minutes ago, as the database has it. */
  function seed(
    id: string,
    environmentId: string,
    runId: string,
    state: PromotionState,
    overrides: Partial<Promotion> = {},
    minutesAgo = 10,
  ): Promotion {
    const promotion: Promotion = {
      id,
      repositoryId: REPO,
      environmentId,
      runId,
      state,
      rollback: false,
      requestedBy: alice.userId,
      requiredApprovals: environments.get(environmentId).requiredApprovals,
      requestedAt: new Date(NOW.getTime() - minutesAgo * 60_000),
      ...overrides,
    };
    promotions.add(promotion);
    return promotion;
  }

  /** Promotion `id` deploying to `environmentId` with deploy run `deployRun` in `runState`. */
  function seedDeploying(
    id: string,
    environmentId: string,
    deployRun: number | undefined,
    runState: RunState = 'running',
  ): void {
    if (deployRun !== undefined) {
      runs.add(build(deployRun, { event: 'promote', state: runState, promotedRunId: 'run-7' }));
    }
    seed(id, environmentId, 'run-7', 'deploying', {
      startedAt: NOW,
      ...(deployRun === undefined ? {} : { deployRunId: `run-${deployRun}` }),
    });
    environments.rows.get(environmentId)!.deployingPromotionId = id;
  }

  /** The promote runs created by the service (the seeded ones have other ids). */
  function createdRuns(): Run[] {
    return [...runs.rows.values()].filter((r) => r.id.startsWith('deploy-run-'));
  }

  function auditedActions(): string[] {
    return audit.record.mock.calls.map(([, action]) => action);
  }

  describe('request', () => {
    it("refuses with 422 and the policy's message a run the policy refuses, creating nothing", async () => {
      runs.add(build(9, { state: 'failure' }));

      expect(await httpFailure(service.request('run-9', 'staging', undefined, alice))).toEqual({
        status: 422,
        message: 'run #9 ended failure: only a successful run can be promoted',
      });

      expect(promotions.rows.size).toBe(0);
      expect(createdRuns()).toEqual([]);
      expect(audit.record).not.toHaveBeenCalled();
      expect(queues.expirePromotion).not.toHaveBeenCalled();
      expect(queues.trigger).not.toHaveBeenCalled();
    });

    it('refuses with 422 a run not yet deployed to the previous environment', async () => {
      environments.rows.get(PRODUCTION)!.previousId = STAGING;

      expect(await httpFailure(service.request('run-7', 'production', undefined, alice))).toEqual({
        status: 422,
        message: 'run #7 has not been deployed to staging: promote it to staging first',
      });
      expect(promotions.rows.size).toBe(0);
    });

    it('answers 422 naming the environments there are for an environment the repository lacks', async () => {
      expect(await httpFailure(service.request('run-7', 'prod', undefined, alice))).toEqual({
        status: 422,
        message: 'the repository has no environment "prod" (environments: staging, production)',
      });
      expect(promotions.rows.size).toBe(0);
    });

    it('asks an environment with approvals for them: awaiting-approval, expiring after its timeout, the expiry queued', async () => {
      const view = await service.request('run-7', 'production', '  ship it  ', alice);

      const [promotion] = [...promotions.rows.values()];
      expect(promotion).toEqual({
        id: view.id,
        repositoryId: REPO,
        environmentId: PRODUCTION,
        runId: 'run-7',
        state: 'awaiting-approval',
        rollback: false,
        requestedBy: alice.userId,
        requiredApprovals: 2,
        comment: 'ship it',
        requestedAt: NOW,
        expiresAt: new Date(NOW.getTime() + 30 * 60_000),
      });
      expect(view.state).toBe('awaiting-approval');
      expect(queues.expirePromotion).toHaveBeenCalledExactlyOnceWith(
        view.id,
        new Date(NOW.getTime() + 30 * 60_000),
      );
      expect(queues.trigger).not.toHaveBeenCalled();
      expect(createdRuns()).toEqual([]);
      expect(environments.get(PRODUCTION).deployingPromotionId).toBeUndefined();
      expect(audit.record).toHaveBeenCalledExactlyOnceWith(
        alice,
        'promotion.requested',
        { type: 'promotion', id: view.id, repositoryId: REPO },
        'alice asked to promote production to run #7',
        {
          environment: 'production',
          run: 7,
          sha: build(7).sha,
          rollback: false,
          comment: 'ship it',
        },
      );
    });

    it('queues a promotion to an environment without approvals and deploys it: the lock taken, a promote run of the source created, claimed, then triggered', async () => {
      // Carried to the promote run: a fork's code never gets the environment's secrets.
      runs.rows.get('run-7')!.fromFork = true;

      const view = await service.request('run-7', 'staging', undefined, alice);

      const [deployRun] = createdRuns();
      expect(deployRun).toEqual({
        id: 'deploy-run-8',
        repositoryId: REPO,
        number: 8,
        state: 'pending',
        event: 'promote',
        ref: 'refs/heads/main',
        branch: 'main',
        sha: build(7).sha,
        message: 'commit 7',
        fromFork: true,
        environment: 'staging',
        promotedRunId: 'run-7',
        author: 'alice',
        createdAt: NOW,
      });
      expect(promotions.get(view.id)).toMatchObject({
        state: 'deploying',
        rollback: false,
        deployRunId: 'deploy-run-8',
        startedAt: NOW,
      });
      expect(promotions.get(view.id).expiresAt).toBeUndefined();
      expect(environments.get(STAGING).deployingPromotionId).toBe(view.id);
      expect(triggered).toEqual([{ runId: 'deploy-run-8', claimedBy: view.id }]);
      expect(queues.expirePromotion).not.toHaveBeenCalled();
      expect(view).toEqual({ id: view.id, state: 'deploying' });
    });

    it('refuses with 409 a run already being promoted to the environment', async () => {
      seed('promotion-1', PRODUCTION, 'run-7', 'awaiting-approval');

      const failure = await httpFailure(service.request('run-7', 'production', undefined, bob));

      expect(failure.status).toBe(409);
      expect(failure.message).toBe(
        'run #7 is already being promoted to production (awaiting-approval, promotion promotion-1)',
      );
      expect(promotions.rows.size).toBe(1);
      expect(audit.record).not.toHaveBeenCalled();
    });

    it('marks as a rollback a run older than the one deployed there now', async () => {
      seed('promotion-1', STAGING, 'run-7', 'deployed', { finishedAt: NOW });

      const view = await service.request('run-5', 'staging', undefined, alice);

      expect(promotions.get(view.id).rollback).toBe(true);
      expect(audit.record.mock.calls[0]?.[3]).toBe('alice asked to roll back staging to run #5');
    });
  });

  describe('approve and reject', () => {
    const EXPIRES = new Date(NOW.getTime() + 20 * 60_000);

    beforeEach(() => {
      seed('promotion-1', PRODUCTION, 'run-7', 'awaiting-approval', { expiresAt: EXPIRES });
    });

    it('forbids the requester to approve or reject their own promotion (403)', async () => {
      for (const decide of [
        service.approve('promotion-1', undefined, alice),
        service.reject('promotion-1', undefined, alice),
      ]) {
        expect(await httpFailure(decide)).toMatchObject({ status: 403 });
      }

      expect(promotions.get('promotion-1').state).toBe('awaiting-approval');
      expect(promotions.decided).toEqual([]);
      expect(audit.record).not.toHaveBeenCalled();
    });

    it('refuses a second decision by the same person with 409', async () => {
      await service.approve('promotion-1', undefined, bob);

      for (const again of [
        service.approve('promotion-1', undefined, bob),
        service.reject('promotion-1', undefined, bob),
      ]) {
        expect(await httpFailure(again)).toEqual({
          status: 409,
          message: 'you have already decided on this promotion',
        });
      }

      expect(promotions.get('promotion-1').state).toBe('awaiting-approval');
      expect(promotions.decided).toHaveLength(1);
      expect(auditedActions()).toEqual(['promotion.approved']);
    });

    it('answers 409 to a decision on a promotion no longer awaiting approval', async () => {
      promotions.rows.get('promotion-1')!.state = 'queued';

      expect(await httpFailure(service.approve('promotion-1', undefined, bob))).toEqual({
        status: 409,
        message: 'the promotion is queued, not awaiting approval',
      });
      expect(promotions.decided).toEqual([]);
    });

    it('expires a promotion approved after its expiry time, answering 409 and recording no decision', async () => {
      vi.setSystemTime(new Date(EXPIRES.getTime() + 60_000));

      expect(await httpFailure(service.approve('promotion-1', undefined, bob))).toEqual({
        status: 409,
        message: `the promotion expired at ${EXPIRES.toISOString()}: ask for it again`,
      });

      expect(promotions.get('promotion-1')).toMatchObject({
        state: 'expired',
        statusMessage: 'not approved within 30 minutes',
      });
      expect(promotions.decided).toEqual([]);
      // Kiln expired it; nobody approved it.
      expect(audit.record).toHaveBeenCalledExactlyOnceWith(
        undefined,
        'promotion.expired',
        expect.anything(),
        expect.any(String),
      );
    });

    it('keeps a promotion awaiting with one approval fewer than required, and queues and deploys it on the last', async () => {
      const first = await service.approve('promotion-1', 'looks good', bob);

      expect(first.state).toBe('awaiting-approval');
      expect(createdRuns()).toEqual([]);
      expect(queues.trigger).not.toHaveBeenCalled();

      const last = await service.approve('promotion-1', undefined, carol);

      expect(last.state).toBe('deploying');
      expect(promotions.get('promotion-1')).toMatchObject({
        state: 'deploying',
        deployRunId: 'deploy-run-8',
      });
      expect(environments.get(PRODUCTION).deployingPromotionId).toBe('promotion-1');
      expect(triggered).toEqual([{ runId: 'deploy-run-8', claimedBy: 'promotion-1' }]);
      expect(promotions.decided.map((d) => [d.userId, d.decision, d.comment])).toEqual([
        [bob.userId, 'approve', 'looks good'],
        [carol.userId, 'approve', undefined],
      ]);
      expect(auditedActions()).toEqual(['promotion.approved', 'promotion.approved']);
    });

    it('ends a rejected promotion rejected, naming who and why, before recording the rejection', async () => {
      const stateWhenRecorded: PromotionState[] = [];
      const decide = promotions.decide.bind(promotions);
      vi.spyOn(promotions, 'decide').mockImplementation((decision) => {
        stateWhenRecorded.push(promotions.get(decision.promotionId).state);
        return decide(decision);
      });

      const view = await service.reject('promotion-1', ' not today ', bob);

      expect(view.state).toBe('rejected');
      expect(promotions.get('promotion-1')).toMatchObject({
        state: 'rejected',
        statusMessage: 'rejected by bob: not today',
        finishedAt: NOW,
      });
      expect(stateWhenRecorded).toEqual(['rejected']);
      expect(promotions.decided).toEqual([
        {
          promotionId: 'promotion-1',
          userId: bob.userId,
          decision: 'reject',
          comment: 'not today',
          at: NOW,
        },
      ]);
      expect(audit.record).toHaveBeenCalledExactlyOnceWith(
        bob,
        'promotion.rejected',
        { type: 'promotion', id: 'promotion-1', repositoryId: REPO },
        'bob rejected the promotion of run #7 to production',
        { environment: 'production', run: 7, comment: 'not today' },
      );
    });

    it('answers 409 to a rejection that lost to the last approval, recording and auditing nothing', async () => {
      // The last approval queues it between the rejection's read and its compare-and-set.
      const decisions = promotions.decisions.bind(promotions);
      vi.spyOn(promotions, 'decisions').mockImplementationOnce((ids) => {
        promotions.rows.get('promotion-1')!.state = 'queued';
        return decisions(ids);
      });

      expect(await httpFailure(service.reject('promotion-1', undefined, bob))).toEqual({
        status: 409,
        message: 'the promotion is no longer awaiting approval',
      });

      expect(promotions.get('promotion-1').state).toBe('queued');
      expect(promotions.get('promotion-1').statusMessage).toBeUndefined();
      expect(promotions.decided).toEqual([]);
      expect(audit.record).not.toHaveBeenCalled();
    });
  });

  describe('dispatch', () => {
    it('cancels the deploy run it created when the promotion was canceled meanwhile, and never triggers it', async () => {
      seed('promotion-1', STAGING, 'run-7', 'queued');
      const create = runs.create.bind(runs);
      vi.spyOn(runs, 'create').mockImplementationOnce(async (input) => {
        const created = await create(input);
        await service.cancel('promotion-1', bob);
        return created;
      });

      await service.dispatch(STAGING);

      expect(createdRuns().map((r) => [r.id, r.state])).toEqual([['deploy-run-8', 'canceled']]);
      expect(promotions.get('promotion-1')).toMatchObject({
        state: 'canceled',
        statusMessage: 'canceled by bob',
      });
      expect(promotions.get('promotion-1').deployRunId).toBeUndefined();
      expect(environments.get(STAGING).deployingPromotionId).toBeUndefined();
      expect(queues.trigger).not.toHaveBeenCalled();
    });

    it('errors a deploy run whose trigger cannot be queued, fails its promotion, frees the lock and deploys the next', async () => {
      seed('promotion-1', STAGING, 'run-7', 'queued', {}, 20);
      seed('promotion-2', STAGING, 'run-5', 'queued', {}, 10);
      queues.trigger.mockRejectedValueOnce(new Error('redis is down'));

      await service.dispatch(STAGING);

      expect(runs.get('deploy-run-8')).toMatchObject({
        state: 'error',
        promotedRunId: 'run-7',
        errors: ['the deployment could not start: redis is down'],
      });
      expect(promotions.get('promotion-1')).toMatchObject({
        state: 'failed',
        statusMessage: 'cannot start: redis is down',
        finishedAt: NOW,
      });
      expect(runs.get('deploy-run-9')).toMatchObject({ state: 'pending', promotedRunId: 'run-5' });
      expect(promotions.get('promotion-2')).toMatchObject({
        state: 'deploying',
        deployRunId: 'deploy-run-9',
      });
      expect(environments.get(STAGING).deployingPromotionId).toBe('promotion-2');
      expect(queues.trigger.mock.calls).toEqual([['deploy-run-8'], ['deploy-run-9']]);
    });

    it('fails a promotion whose deploy run cannot be created, frees the lock and deploys the next', async () => {
      seed('promotion-1', STAGING, 'run-7', 'queued', {}, 20);
      seed('promotion-2', STAGING, 'run-5', 'queued', {}, 10);
      vi.spyOn(runs, 'create').mockRejectedValueOnce(new Error('database is locked'));

      await service.dispatch(STAGING);

      expect(promotions.get('promotion-1')).toMatchObject({
        state: 'failed',
        statusMessage: 'cannot start: database is locked',
      });
      expect(promotions.get('promotion-1').deployRunId).toBeUndefined();
      expect(createdRuns().map((r) => [r.id, r.state, r.promotedRunId])).toEqual([
        ['deploy-run-8', 'pending', 'run-5'],
      ]);
      expect(promotions.get('promotion-2')).toMatchObject({
        state: 'deploying',
        deployRunId: 'deploy-run-8',
      });
      expect(environments.get(STAGING).deployingPromotionId).toBe('promotion-2');
      expect(triggered).toEqual([{ runId: 'deploy-run-8', claimedBy: 'promotion-2' }]);
    });

    it('passes over a queued promotion canceled before it took the lock, and deploys the next', async () => {
      seed('promotion-1', STAGING, 'run-7', 'queued', {}, 20);
      seed('promotion-2', STAGING, 'run-5', 'queued', {}, 10);
      const listByState = promotions.listByState.bind(promotions);
      vi.spyOn(promotions, 'listByState').mockImplementationOnce(async (states, filter) => {
        const listed = await listByState(states, filter);
        await promotions.transition('promotion-1', ['queued'], 'canceled');
        return listed;
      });

      await service.dispatch(STAGING);

      expect(promotions.get('promotion-1').state).toBe('canceled');
      expect(createdRuns().map((r) => r.promotedRunId)).toEqual(['run-5']);
      expect(environments.get(STAGING).deployingPromotionId).toBe('promotion-2');
      expect(triggered).toEqual([{ runId: 'deploy-run-8', claimedBy: 'promotion-2' }]);
    });

    it('starts nothing while another promotion holds the lock', async () => {
      seedDeploying('promotion-1', STAGING, 8);
      seed('promotion-2', STAGING, 'run-5', 'queued');

      await service.dispatch(STAGING);

      expect(promotions.get('promotion-2').state).toBe('queued');
      expect(createdRuns()).toEqual([]);
      expect(queues.trigger).not.toHaveBeenCalled();
    });
  });

  describe('deployEnded', () => {
    it.each([
      { runState: 'success', outcome: 'deployed', message: undefined },
      { runState: 'failure', outcome: 'failed', message: 'deploy run #8 ended failure' },
      { runState: 'error', outcome: 'failed', message: 'deploy run #8 ended error' },
      { runState: 'canceled', outcome: 'canceled', message: undefined },
    ] as const)(
      'ends a promotion $outcome when its deploy run ends $runState, frees the lock and deploys the next',
      async ({ runState, outcome, message }) => {
        seedDeploying('promotion-1', STAGING, 8, runState);
        seed('promotion-2', STAGING, 'run-5', 'queued');

        await service.deployEnded('run-8');

        const ended = promotions.get('promotion-1');
        expect(ended).toMatchObject({ state: outcome, finishedAt: NOW });
        expect(ended.statusMessage).toBe(message);
        expect(promotions.get('promotion-2')).toMatchObject({
          state: 'deploying',
          deployRunId: 'deploy-run-9',
        });
        expect(environments.get(STAGING).deployingPromotionId).toBe('promotion-2');
        expect(queues.trigger).toHaveBeenCalledExactlyOnceWith('deploy-run-9');
      },
    );

    it.each(['pending', 'running'] as const)(
      'changes nothing while the deploy run is %s',
      async (runState) => {
        seedDeploying('promotion-1', STAGING, 8, runState);
        seed('promotion-2', STAGING, 'run-5', 'queued');
        const before = structuredClone([...promotions.rows.values()]);

        await service.deployEnded('run-8');

        expect([...promotions.rows.values()]).toEqual(before);
        expect(environments.get(STAGING).deployingPromotionId).toBe('promotion-1');
        expect(queues.trigger).not.toHaveBeenCalled();
      },
    );
  });

  describe('cancel', () => {
    it.each(['awaiting-approval', 'queued'] as const)(
      'cancels a promotion %s and audits it',
      async (state) => {
        seed('promotion-1', PRODUCTION, 'run-7', state);

        const view = await service.cancel('promotion-1', bob);

        expect(view.state).toBe('canceled');
        expect(promotions.get('promotion-1')).toMatchObject({
          state: 'canceled',
          statusMessage: 'canceled by bob',
          finishedAt: NOW,
        });
        expect(audit.record).toHaveBeenCalledExactlyOnceWith(
          bob,
          'promotion.canceled',
          { type: 'promotion', id: 'promotion-1', repositoryId: REPO },
          `bob canceled a promotion (${state})`,
          { state },
        );
      },
    );

    it("cancels a deploying promotion's run through RunsService with the actor; the run's end ends the promotion", async () => {
      seedDeploying('promotion-1', STAGING, 8);

      await service.cancel('promotion-1', bob);

      expect(runsService.cancel).toHaveBeenCalledExactlyOnceWith('run-8', 'canceled by bob', bob);
      expect(auditedActions()).toEqual(['promotion.canceled']);
      expect(promotions.get('promotion-1').state).toBe('deploying');

      await service.deployEnded('run-8');

      expect(promotions.get('promotion-1').state).toBe('canceled');
      expect(environments.get(STAGING).deployingPromotionId).toBeUndefined();
    });

    it('cancels a deploying promotion that has no run yet, freeing the lock for the next', async () => {
      seedDeploying('promotion-1', STAGING, undefined);
      seed('promotion-2', STAGING, 'run-5', 'queued');

      await service.cancel('promotion-1', bob);

      expect(promotions.get('promotion-1')).toMatchObject({
        state: 'canceled',
        statusMessage: 'canceled by bob',
      });
      expect(runsService.cancel).not.toHaveBeenCalled();
      expect(promotions.get('promotion-2')).toMatchObject({
        state: 'deploying',
        deployRunId: 'deploy-run-8',
      });
      expect(auditedActions()).toEqual(['promotion.canceled']);
    });

    it('answers 409 and audits nothing when the deploying promotion’s run has already ended', async () => {
      seedDeploying('promotion-1', STAGING, 8, 'success');

      expect(await httpFailure(service.cancel('promotion-1', bob))).toEqual({
        status: 409,
        message: 'the deployment has already ended',
      });

      expect(audit.record).not.toHaveBeenCalled();
    });

    it.each(['deployed', 'failed', 'canceled', 'rejected', 'expired'] as const)(
      'answers 409 to canceling a promotion that has ended %s',
      async (state) => {
        seed('promotion-1', PRODUCTION, 'run-7', state, { finishedAt: NOW });

        expect(await httpFailure(service.cancel('promotion-1', bob))).toEqual({
          status: 409,
          message: `the promotion has already ended (${state})`,
        });

        expect(promotions.get('promotion-1').state).toBe(state);
        expect(audit.record).not.toHaveBeenCalled();
      },
    );
  });

  describe('one deployment at a time per environment', () => {
    // A cancel that read a deploying promotion without a run must not end it on its state
    // alone: a run claimed in between is canceled with it.
    it('does not end a canceled promotion while a deploy run claimed after the cancel read it goes on deploying', async () => {
      seedDeploying('promotion-1', STAGING, undefined);
      seed('promotion-2', STAGING, 'run-5', 'queued');
      // The cancel reads the promotion without a run; its startDeployRun (this server or
      // another) then claims and triggers one before the cancel ends the promotion.
      const findById = promotions.findById.bind(promotions);
      vi.spyOn(promotions, 'findById').mockImplementationOnce(async (id) => {
        const read = await findById(id);
        runs.add(build(8, { event: 'promote', state: 'running', promotedRunId: 'run-7' }));
        expect(await promotions.claimDeployRun('promotion-1', 'run-8')).toBe(true);
        return read;
      });

      await service.cancel('promotion-1', bob);

      // Either the run is canceled with its promotion, or the promotion holds the lock until
      // its run ends: never a canceled promotion's run deploying beside the next one.
      if (promotions.get('promotion-1').state === 'canceled') {
        expect(runs.get('run-8').state).toBe('canceled');
      } else {
        expect(environments.get(STAGING).deployingPromotionId).toBe('promotion-1');
      }
    });

    // startDeployRun()'s catch must not fail a promotion whose run started after all.
    it('keeps the lock for a deploy run that started although queuing its trigger failed', async () => {
      seed('promotion-1', STAGING, 'run-7', 'queued', {}, 20);
      seed('promotion-2', STAGING, 'run-5', 'queued', {}, 10);
      // The add reached Redis, its answer did not: the trigger worker already started the run.
      queues.trigger.mockImplementationOnce((runId) => {
        runs.rows.get(runId)!.state = 'running';
        return Promise.reject(new Error('connection reset'));
      });

      await service.dispatch(STAGING);

      expect(runs.get('deploy-run-8').state).toBe('running');
      expect(environments.get(STAGING).deployingPromotionId).toBe('promotion-1');
      expect(promotions.get('promotion-1').state).toBe('deploying');
      expect(promotions.get('promotion-2').state).toBe('queued');
    });
  });

  describe('expire', () => {
    it('expires a promotion nobody approved in time, audited as Kiln', async () => {
      seed('promotion-1', PRODUCTION, 'run-7', 'awaiting-approval', { expiresAt: NOW }, 30);

      await service.expire('promotion-1');

      expect(promotions.get('promotion-1')).toMatchObject({
        state: 'expired',
        statusMessage: 'not approved within 30 minutes',
        finishedAt: NOW,
      });
      expect(audit.record).toHaveBeenCalledExactlyOnceWith(
        undefined,
        'promotion.expired',
        { type: 'promotion', id: 'promotion-1', repositoryId: REPO },
        'a promotion expired without enough approvals',
      );
    });

    it('looks again when it is due at an expiry queued early', async () => {
      const due = new Date(NOW.getTime() + 60_000);
      seed('promotion-1', PRODUCTION, 'run-7', 'awaiting-approval', { expiresAt: due });

      await service.expire('promotion-1');

      expect(promotions.get('promotion-1').state).toBe('awaiting-approval');
      expect(queues.expirePromotion).toHaveBeenCalledExactlyOnceWith('promotion-1', due);
      expect(audit.record).not.toHaveBeenCalled();
    });
  });

  describe('onApplicationBootstrap', () => {
    it('starts the deploy run of a deploying promotion left without one', async () => {
      seedDeploying('promotion-1', STAGING, undefined);

      await service.onApplicationBootstrap();

      expect(promotions.get('promotion-1')).toMatchObject({
        state: 'deploying',
        deployRunId: 'deploy-run-8',
      });
      expect(triggered).toEqual([{ runId: 'deploy-run-8', claimedBy: 'promotion-1' }]);
    });

    it('finishes a deploying promotion whose run ended while the server was down, and deploys the next', async () => {
      seedDeploying('promotion-1', STAGING, 8, 'failure');
      seed('promotion-2', STAGING, 'run-5', 'queued');

      await service.onApplicationBootstrap();

      expect(promotions.get('promotion-1')).toMatchObject({
        state: 'failed',
        statusMessage: 'deploy run #8 ended failure',
      });
      expect(promotions.get('promotion-2')).toMatchObject({
        state: 'deploying',
        deployRunId: 'deploy-run-9',
      });
      expect(queues.trigger).toHaveBeenCalledExactlyOnceWith('deploy-run-9');
    });

    it('leaves a deploying promotion whose run is still going as it is', async () => {
      seedDeploying('promotion-1', STAGING, 8, 'running');

      await service.onApplicationBootstrap();

      expect(promotions.get('promotion-1').state).toBe('deploying');
      expect(createdRuns()).toEqual([]);
      expect(queues.trigger).not.toHaveBeenCalled();
    });

    it('deploys the oldest queued promotion of each environment', async () => {
      seed('promotion-1', STAGING, 'run-7', 'queued', {}, 30);
      seed('promotion-2', PRODUCTION, 'run-5', 'queued', {}, 20);
      seed('promotion-3', STAGING, 'run-5', 'queued', {}, 10);

      await service.onApplicationBootstrap();

      expect(environments.get(STAGING).deployingPromotionId).toBe('promotion-1');
      expect(environments.get(PRODUCTION).deployingPromotionId).toBe('promotion-2');
      expect(promotions.get('promotion-3').state).toBe('queued');
      expect(triggered.map((t) => t.claimedBy)).toEqual(['promotion-1', 'promotion-2']);
    });

    it('queues the expiry of each promotion awaiting approval again', async () => {
      const soon = new Date(NOW.getTime() + 5 * 60_000);
      const past = new Date(NOW.getTime() - 5 * 60_000);
      seed('promotion-1', PRODUCTION, 'run-7', 'awaiting-approval', { expiresAt: soon });
      seed('promotion-2', PRODUCTION, 'run-5', 'awaiting-approval', { expiresAt: past });

      await service.onApplicationBootstrap();

      expect(queues.expirePromotion.mock.calls).toEqual([
        ['promotion-1', soon],
        ['promotion-2', past],
      ]);
      expect(queues.trigger).not.toHaveBeenCalled();
    });
  });
});
