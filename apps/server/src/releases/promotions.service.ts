import { errorMessage } from '@kiln/common';
import {
  AccountsRepository,
  ACTIVE_PROMOTION_STATES,
  EnvironmentsRepository,
  PromotionsRepository,
  RunsRepository,
  TERMINAL_RUN_STATES,
  type Environment,
  type Promotion,
  type Run,
} from '@kiln/persistence';
import {
  ConflictException,
  ForbiddenException,
  Injectable,
  Logger,
  NotFoundException,
  UnprocessableEntityException,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { AuditLog } from '../audit/audit-log';
import type { Principal } from '../auth/principal';
import { PipelineQueues, queuesUnavailable } from '../runs/pipeline-queues';
import { RunsService } from '../runs/runs.service';
import { promotionRefusalFor } from './promotion-eligibility';
import { alreadyPromoting } from './promotion-policy';
import { PromotionViews } from './promotion-views';
import type { PromotionResponse } from './releases.dto';

type Actor = Pick<Principal, 'userId' | 'username'>;

/**
 * Promotions: a release manager asks for a run that passed to be deployed to an environment; the
 * environment's policy is checked, approvals are collected, then a `promote` run on the run's
 * commit deploys it, one at a time per environment, in request order. The deploy lock and every
 * state change are compare-and-sets in the database, so concurrent approvals, cancels and run
 * ends (even on two servers) change a promotion once; queue events only say when to look.
 */
@Injectable()
export class PromotionsService implements OnApplicationBootstrap {
  private readonly logger = new Logger(PromotionsService.name);

  constructor(
    private readonly promotions: PromotionsRepository,
    private readonly environments: EnvironmentsRepository,
    private readonly runs: RunsRepository,
    private readonly accounts: AccountsRepository,
    private readonly runsService: RunsService,
    private readonly queues: PipelineQueues,
    private readonly audit: AuditLog,
    private readonly views: PromotionViews,
  ) {}

  // ---- Asking --------------------------------------------------------------------------------

  async request(
    runId: string,
    environmentName: string,
    comment: string | undefined,
    actor: Actor,
  ): Promise<PromotionResponse> {
    // Both ends of a request queue something (its expiry, or its deploy run's trigger), and an
    // add waits for Redis to return: refuse now rather than keep the caller, who may retry.
    if (!(await this.queues.ready())) throw queuesUnavailable('no promotion was requested');
    const run = await this.runs.findById(runId);
    if (run === undefined) throw new NotFoundException(`run ${runId} does not exist`);
    const environment = await this.environmentNamed(run.repositoryId, environmentName);
    const refusal = await promotionRefusalFor(run, environment, {
      environments: this.environments,
      promotions: this.promotions,
      runs: this.runs,
    });
    if (refusal !== undefined) throw new UnprocessableEntityException(refusal);
    const active = await this.promotions.listByState(ACTIVE_PROMOTION_STATES, {
      environmentIds: [environment.id],
      runId: run.id,
    });
    if (active[0] !== undefined) {
      throw new ConflictException(alreadyPromoting(run.number, environment.name, active[0]));
    }
    const current = await this.promotions.current(environment.id);
    const currentRun = current && (await this.runs.findById(current.runId));
    const awaiting = environment.requiredApprovals > 0;
    const now = new Date();
    const promotion = await this.promotions.create(
      {
        repositoryId: run.repositoryId,
        environmentId: environment.id,
        runId: run.id,
        state: awaiting ? 'awaiting-approval' : 'queued',
        rollback: currentRun !== undefined && run.number < currentRun.number,
        requestedBy: actor.userId,
        requiredApprovals: environment.requiredApprovals,
        ...(comment === undefined || comment.trim() === '' ? {} : { comment: comment.trim() }),
        ...(awaiting
          ? { expiresAt: new Date(now.getTime() + environment.approvalTimeoutMinutes * 60_000) }
          : {}),
      },
      now,
    );
    await this.audit.record(
      actor,
      'promotion.requested',
      { type: 'promotion', id: promotion.id, repositoryId: run.repositoryId },
      `${actor.username} asked to ${promotion.rollback ? 'roll back' : 'promote'} ${environment.name} to run #${run.number}`,
      {
        environment: environment.name,
        run: run.number,
        sha: run.sha,
        rollback: promotion.rollback,
        ...(promotion.comment === undefined ? {} : { comment: promotion.comment }),
      },
    );
    if (promotion.expiresAt !== undefined) {
      await this.queues.expirePromotion(promotion.id, promotion.expiresAt);
    } else {
      await this.dispatch(environment.id);
    }
    return this.view(promotion.id);
  }

  // ---- Deciding ------------------------------------------------------------------------------

  async approve(
    promotionId: string,
    comment: string | undefined,
    actor: Actor,
  ): Promise<PromotionResponse> {
    // The last approval queues the deploy run's trigger: refuse before recording anything.
    if (!(await this.queues.ready())) throw queuesUnavailable('no approval was recorded');
    const promotion = await this.decide(promotionId, 'approve', comment, actor);
    const decisions = (await this.promotions.decisions([promotion.id])).get(promotion.id) ?? [];
    const approvals = new Set(
      decisions
        .filter((d) => d.decision === 'approve' && d.userId !== promotion.requestedBy)
        .map((d) => d.userId),
    );
    if (approvals.size >= promotion.requiredApprovals) {
      const queued = await this.promotions.transition(
        promotion.id,
        ['awaiting-approval'],
        'queued',
        {
          statusMessage: null,
        },
      );
      if (queued !== undefined) await this.dispatch(queued.environmentId);
    }
    return this.view(promotion.id);
  }

  async reject(
    promotionId: string,
    comment: string | undefined,
    actor: Actor,
  ): Promise<PromotionResponse> {
    const promotion = await this.decide(promotionId, 'reject', comment, actor);
    return this.view(promotion.id);
  }

  /** Records one release manager's decision: never the requester's, once per person. */
  private async decide(
    promotionId: string,
    decision: 'approve' | 'reject',
    comment: string | undefined,
    actor: Actor,
  ): Promise<Promotion> {
    const promotion = await this.find(promotionId);
    if (promotion.requestedBy === actor.userId) {
      throw new ForbiddenException(
        `you requested this promotion: another release manager must ${decision} it`,
      );
    }
    if (promotion.state !== 'awaiting-approval') {
      throw new ConflictException(`the promotion is ${promotion.state}, not awaiting approval`);
    }
    // Its expiry job may not have run yet: the time decides, not the queue.
    if (promotion.expiresAt !== undefined && promotion.expiresAt <= new Date()) {
      await this.expire(promotion.id);
      throw new ConflictException(
        `the promotion expired at ${promotion.expiresAt.toISOString()}: ask for it again`,
      );
    }
    const decided = (await this.promotions.decisions([promotion.id])).get(promotion.id) ?? [];
    if (decided.some((d) => d.userId === actor.userId)) {
      throw new ConflictException('you have already decided on this promotion');
    }
    const trimmed = comment?.trim();
    if (decision === 'reject') {
      // Rejected first: a rejection that lost to the last approval must not read as one.
      const why = trimmed === undefined || trimmed === '' ? '' : `: ${trimmed}`;
      const rejected = await this.promotions.transition(
        promotion.id,
        ['awaiting-approval'],
        'rejected',
        { statusMessage: `rejected by ${actor.username}${why}` },
      );
      if (rejected === undefined) {
        throw new ConflictException('the promotion is no longer awaiting approval');
      }
    }
    const recorded = await this.promotions.decide({
      promotionId,
      userId: actor.userId,
      decision,
      ...(trimmed === undefined || trimmed === '' ? {} : { comment: trimmed }),
    });
    if (!recorded) throw new ConflictException('you have already decided on this promotion');
    const [environment, run] = await Promise.all([
      this.environments.findById(promotion.environmentId),
      this.runs.findById(promotion.runId),
    ]);
    await this.audit.record(
      actor,
      decision === 'approve' ? 'promotion.approved' : 'promotion.rejected',
      { type: 'promotion', id: promotion.id, repositoryId: promotion.repositoryId },
      `${actor.username} ${decision === 'approve' ? 'approved' : 'rejected'} the promotion of run #${run?.number ?? '?'} to ${environment?.name ?? '?'}`,
      {
        environment: environment?.name,
        run: run?.number,
        ...(trimmed === undefined || trimmed === '' ? {} : { comment: trimmed }),
      },
    );
    return promotion;
  }

  async cancel(promotionId: string, actor: Actor): Promise<PromotionResponse> {
    const promotion = await this.find(promotionId);
    const why = `canceled by ${actor.username}`;
    if (promotion.state === 'deploying') {
      let runId = promotion.deployRunId;
      if (runId === undefined) {
        if (await this.promotions.cancelBeforeRun(promotion, why)) {
          await this.dispatch(promotion.environmentId);
        } else {
          // Its run was claimed meanwhile: that run is what must stop.
          const now = await this.find(promotion.id);
          if (now.state !== 'deploying' || now.deployRunId === undefined) {
            throw new ConflictException(`the promotion has already ended (${now.state})`);
          }
          runId = now.deployRunId;
        }
      }
      if (runId !== undefined) {
        // The run's end ends the promotion and frees the lock, as any deploy run's end does.
        await this.runsService.cancel(runId, why, actor).catch((error: unknown) => {
          throw error instanceof ConflictException
            ? new ConflictException('the deployment has already ended')
            : error;
        });
      }
    } else if (
      (await this.promotions.transition(promotion.id, ['awaiting-approval', 'queued'], 'canceled', {
        statusMessage: why,
      })) === undefined
    ) {
      throw new ConflictException(`the promotion has already ended (${promotion.state})`);
    }
    await this.audit.record(
      actor,
      'promotion.canceled',
      { type: 'promotion', id: promotion.id, repositoryId: promotion.repositoryId },
      `${actor.username} canceled a promotion (${promotion.state})`,
      { state: promotion.state },
    );
    return this.view(promotion.id);
  }

  // ---- Deploying -----------------------------------------------------------------------------

  /**
   * Starts the environment's next queued promotion (oldest request first) if none is deploying.
   * Safe to call any time from anywhere: the lock is a compare-and-set.
   */
  async dispatch(environmentId: string): Promise<void> {
    for (let tries = 0; tries < 100; tries++) {
      const environment = await this.environments.findById(environmentId);
      if (environment === undefined || environment.deployingPromotionId !== undefined) return;
      const [next] = await this.promotions.listByState(['queued'], {
        environmentIds: [environmentId],
      });
      if (next === undefined) return;
      if (await this.promotions.startDeploying(next)) {
        await this.startDeployRun(next, environment);
        return;
      }
    }
  }

  /**
   * Creates the promote run of a promotion holding the lock. The run is recorded on the
   * promotion before its trigger is queued, so its end always finds its promotion.
   */
  private async startDeployRun(promotion: Promotion, environment: Environment): Promise<void> {
    let deployRun: Run | undefined;
    try {
      const source = await this.runs.findById(promotion.runId);
      if (source === undefined) throw new Error(`run ${promotion.runId} no longer exists`);
      const requester = await this.accounts.findUser(promotion.requestedBy);
      const created = await this.runs.create({
        repositoryId: source.repositoryId,
        event: 'promote',
        ref: source.ref,
        sha: source.sha,
        // The policy refuses pull requests; this keeps a fork's code from secrets regardless.
        fromFork: source.fromFork,
        environment: environment.name,
        promotedRunId: source.id,
        ...(source.branch === undefined ? {} : { branch: source.branch }),
        ...(source.tag === undefined ? {} : { tag: source.tag }),
        ...(source.message === undefined ? {} : { message: source.message }),
        ...(requester === undefined ? {} : { author: requester.username }),
      });
      if (!('run' in created)) throw new Error('a run without a delivery cannot be a duplicate');
      deployRun = created.run;
      if (!(await this.promotions.claimDeployRun(promotion.id, deployRun.id))) {
        // Canceled meanwhile, or another server started it first: this run never deploys.
        await this.runs.transition(deployRun.id, ['pending'], 'canceled');
        return;
      }
      await this.queues.trigger(deployRun.id);
      this.logger.log(
        `promotion ${promotion.id}: run #${deployRun.number} deploys run #${source.number} to ${environment.name}`,
      );
    } catch (error) {
      this.logger.error(`promotion ${promotion.id} cannot start: ${errorMessage(error)}`);
      // A run left pending could still be started by a trigger that did reach the queue.
      if (deployRun !== undefined) {
        const errored = await this.runs.transition(deployRun.id, ['pending'], 'error', {
          errors: [`the deployment could not start: ${errorMessage(error)}`],
        });
        // It did, and started: it deploys, and its end ends the promotion as any run's does.
        if (errored === undefined) return;
      }
      await this.promotions.finishDeploying(
        promotion,
        'failed',
        `cannot start: ${errorMessage(error)}`,
      );
      await this.dispatch(environment.id);
    }
  }

  /** A promote run ended: its promotion ends with it and the next one may deploy. */
  async deployEnded(runId: string): Promise<void> {
    const promotion = await this.promotions.findByDeployRun(runId);
    if (promotion?.state !== 'deploying') return;
    const run = await this.runs.findById(runId);
    if (run === undefined || !TERMINAL_RUN_STATES.includes(run.state)) return;
    const outcome =
      run.state === 'success' ? 'deployed' : run.state === 'canceled' ? 'canceled' : 'failed';
    await this.promotions.finishDeploying(
      promotion,
      outcome,
      outcome === 'failed' ? `deploy run #${run.number} ended ${run.state}` : undefined,
    );
    await this.dispatch(promotion.environmentId);
  }

  /** An approval request that nobody decided on in time ends `expired`. */
  async expire(promotionId: string, now = new Date()): Promise<void> {
    const promotion = await this.promotions.findById(promotionId);
    if (promotion?.state !== 'awaiting-approval' || promotion.expiresAt === undefined) return;
    if (promotion.expiresAt > now) {
      // Queued early (a clock skew, or a restart re-adding it): look again when it is due.
      await this.queues.expirePromotion(promotion.id, promotion.expiresAt);
      return;
    }
    const expired = await this.promotions.transition(
      promotion.id,
      ['awaiting-approval'],
      'expired',
      {
        statusMessage: `not approved within ${Math.round((promotion.expiresAt.getTime() - promotion.requestedAt.getTime()) / 60_000)} minutes`,
        now,
      },
    );
    if (expired === undefined) return;
    await this.audit.record(
      undefined,
      'promotion.expired',
      { type: 'promotion', id: promotion.id, repositoryId: promotion.repositoryId },
      'a promotion expired without enough approvals',
    );
  }

  /**
   * After a restart, picks up what an event lost while the server was down: deploy runs that
   * ended, promotions that hold a lock without a run, queued ones, and expiries.
   */
  async onApplicationBootstrap(): Promise<void> {
    try {
      for (const promotion of await this.promotions.listByState(['deploying'])) {
        if (promotion.deployRunId === undefined) {
          const environment = await this.environments.findById(promotion.environmentId);
          if (environment !== undefined) await this.startDeployRun(promotion, environment);
        } else {
          // A run still pending is queued again by the trigger service's own start-up.
          await this.deployEnded(promotion.deployRunId);
        }
      }
      const queued = await this.promotions.listByState(['queued']);
      for (const environmentId of new Set(queued.map((p) => p.environmentId))) {
        await this.dispatch(environmentId);
      }
      for (const promotion of await this.promotions.listByState(['awaiting-approval'])) {
        if (promotion.expiresAt !== undefined) {
          await this.queues.expirePromotion(promotion.id, promotion.expiresAt);
        }
      }
    } catch (error) {
      this.logger.error(`reconciling promotions failed: ${errorMessage(error)}`);
    }
  }

  // ---- Reading -------------------------------------------------------------------------------

  async view(promotionId: string): Promise<PromotionResponse> {
    return this.views.one(await this.find(promotionId));
  }

  /** Awaiting the caller's decision: on repositories they release, asked by someone else. */
  async inbox(principal: Principal): Promise<PromotionResponse[]> {
    const awaiting = await this.promotions.listByState(['awaiting-approval']);
    const decisions = await this.promotions.decisions(awaiting.map((p) => p.id));
    const mine: Promotion[] = [];
    for (const promotion of awaiting) {
      if (promotion.requestedBy === principal.userId) continue;
      if ((decisions.get(promotion.id) ?? []).some((d) => d.userId === principal.userId)) continue;
      const role = principal.isAdmin
        ? 'release-manager'
        : await this.accounts.roleOf(promotion.repositoryId, principal.userId);
      if (role === 'release-manager') mine.push(promotion);
    }
    return this.views.many(mine);
  }

  private async find(promotionId: string): Promise<Promotion> {
    const promotion = await this.promotions.findById(promotionId);
    if (promotion === undefined)
      throw new NotFoundException(`promotion ${promotionId} does not exist`);
    return promotion;
  }

  private async environmentNamed(repositoryId: string, name: string): Promise<Environment> {
    const environment = await this.environments.findByName(repositoryId, name);
    if (environment !== undefined) return environment;
    const names = (await this.environments.list(repositoryId)).map((e) => e.name);
    throw new UnprocessableEntityException(
      `the repository has no environment "${name}"` +
        (names.length === 0 ? ' (it has none yet)' : ` (environments: ${names.join(', ')})`),
    );
  }
}
