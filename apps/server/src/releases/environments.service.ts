import {
  ACTIVE_PROMOTION_STATES,
  EnvironmentsRepository,
  PromotionsRepository,
  RepositoriesRepository,
  RunsRepository,
  type Environment,
  type Promotion,
  type Run,
} from '@kiln/persistence';
import { matchesGlob } from '@kiln/pipeline';
import {
  ConflictException,
  Injectable,
  NotFoundException,
  UnprocessableEntityException,
} from '@nestjs/common';
import { AuditLog } from '../audit/audit-log';
import type { Principal } from '../auth/principal';
import { promotionRefusalFor } from './promotion-eligibility';
import { alreadyPromoting, closesCycle } from './promotion-policy';
import { PromotionViews, toEnvironmentResponse, toRunSummary } from './promotion-views';
import type {
  EligibilityResponse,
  EnvironmentBoardEntryResponse,
  EnvironmentResponse,
  PromotionResponse,
  SaveEnvironmentDto,
} from './releases.dto';

/** How many runs the board offers as promotable next, per environment. */
const PROMOTABLE = 5;
/** How far back the board looks for them. */
const LOOK_BACK = 50;

/** Environments: their policies (admins), the board of what is where, and their history. */
@Injectable()
export class EnvironmentsService {
  constructor(
    private readonly environments: EnvironmentsRepository,
    private readonly promotions: PromotionsRepository,
    private readonly runs: RunsRepository,
    private readonly views: PromotionViews,
    private readonly audit: AuditLog,
    private readonly repositories: RepositoriesRepository,
  ) {}

  async save(
    repositoryId: string,
    name: string,
    dto: SaveEnvironmentDto,
    actor: Principal,
  ): Promise<EnvironmentResponse> {
    if ((await this.repositories.findById(repositoryId)) === undefined) {
      throw new NotFoundException(`repository ${repositoryId} does not exist`);
    }
    const all = await this.environments.list(repositoryId);
    const existing = all.find((e) => e.name === name);
    let previousId: string | null = null;
    if (dto.previous !== undefined && dto.previous !== null) {
      const previous = all.find((e) => e.name === dto.previous);
      if (previous === undefined) {
        throw new UnprocessableEntityException(
          `previous: the repository has no environment "${dto.previous}"`,
        );
      }
      if (previous.name === name || (existing && closesCycle(all, existing.id, previous.id))) {
        throw new UnprocessableEntityException(
          `previous: ${dto.previous} comes after ${name} already; environments cannot form a cycle`,
        );
      }
      previousId = previous.id;
    } else if (dto.previous === undefined && existing?.previousId !== undefined) {
      previousId = existing.previousId;
    }
    const saved = await this.environments.save(repositoryId, name, {
      previousId,
      requiredApprovals: dto.requiredApprovals ?? existing?.requiredApprovals ?? 0,
      allowedBranches:
        dto.allowedBranches === undefined
          ? (existing?.allowedBranches ?? null)
          : dto.allowedBranches,
      approvalTimeoutMinutes:
        dto.approvalTimeoutMinutes ?? existing?.approvalTimeoutMinutes ?? 1440,
    });
    const after = [...all.filter((e) => e.id !== saved.id), saved];
    const response = toEnvironmentResponse(saved, after);
    await this.audit.record(
      actor,
      'environment.saved',
      { type: 'environment', id: saved.id, repositoryId },
      `${actor.username} ${existing === undefined ? 'created' : 'changed'} environment ${name}`,
      { ...response },
    );
    return response;
  }

  async delete(repositoryId: string, name: string, actor: Principal): Promise<void> {
    const all = await this.environments.list(repositoryId);
    const environment = all.find((e) => e.name === name);
    if (environment === undefined) {
      throw new NotFoundException(`the repository has no environment "${name}"`);
    }
    const next = all.find((e) => e.previousId === environment.id);
    if (next !== undefined) {
      throw new ConflictException(
        `${next.name} follows ${name}: change or delete ${next.name} first`,
      );
    }
    const active = await this.promotions.listByState(ACTIVE_PROMOTION_STATES, {
      environmentIds: [environment.id],
    });
    if (active.length > 0) {
      throw new ConflictException(
        `${active.length} promotion(s) to ${name} have not ended: cancel them first`,
      );
    }
    await this.environments.delete(environment.id);
    await this.audit.record(
      actor,
      'environment.deleted',
      { type: 'environment', id: environment.id, repositoryId },
      `${actor.username} deleted environment ${name}`,
    );
  }

  /**
   * Every environment in promotion order: what runs there, what waits, what may go next; and,
   * given a run, whether it may be promoted to each now.
   */
  async board(repositoryId: string, runId?: string): Promise<EnvironmentBoardEntryResponse[]> {
    const all = await this.environments.list(repositoryId);
    const run = runId === undefined ? undefined : await this.runs.findById(runId);
    if (runId !== undefined && run?.repositoryId !== repositoryId) {
      throw new NotFoundException(`run ${runId} is not a run of repository ${repositoryId}`);
    }
    const successful = await this.successfulBuilds(repositoryId);
    return Promise.all(
      all.map(async (environment): Promise<EnvironmentBoardEntryResponse> => {
        const [current, pending] = await Promise.all([
          this.promotions.current(environment.id),
          this.promotions.listByState(ACTIVE_PROMOTION_STATES, {
            environmentIds: [environment.id],
          }),
        ]);
        const [currentView, pendingViews, promotable] = await Promise.all([
          current === undefined ? undefined : this.views.one(current),
          this.views.many(pending),
          this.promotable(
            environment,
            successful,
            current?.runId,
            pending.map((p) => p.runId),
          ),
        ]);
        return {
          environment: toEnvironmentResponse(environment, all),
          ...(currentView === undefined ? {} : { current: currentView }),
          pending: pendingViews,
          promotable: promotable.map(toRunSummary),
          ...(run === undefined
            ? {}
            : { eligibility: await this.eligibility(run, environment, pending) }),
        };
      }),
    );
  }

  /** An environment's promotions, newest first. */
  async history(
    repositoryId: string,
    name: string,
    limit: number,
    before?: string,
  ): Promise<PromotionResponse[]> {
    const environment = await this.environments.findByName(repositoryId, name);
    if (environment === undefined) {
      throw new NotFoundException(`the repository has no environment "${name}"`);
    }
    const cursor = before === undefined ? undefined : await this.promotions.findById(before);
    if (before !== undefined && cursor?.environmentId !== environment.id) {
      throw new NotFoundException(`promotion ${before} is not a promotion to ${name}`);
    }
    const promotions = await this.promotions.listByEnvironment(environment.id, {
      limit,
      ...(cursor === undefined ? {} : { before: cursor }),
    });
    return this.views.many(promotions);
  }

  /**
   * Runs that may be promoted to `environment` next, newest first: deployed to its previous
   * environment (or successful builds, for the first), on an allowed branch, newer than what
   * runs there now, not already on their way.
   */
  private async promotable(
    environment: Environment,
    successful: Run[],
    currentRunId: string | undefined,
    pendingRunIds: string[],
  ): Promise<Run[]> {
    let candidates = successful;
    if (environment.previousId !== undefined) {
      const passed = await this.promotions.deployedRuns(
        environment.previousId,
        successful.map((run) => run.id),
      );
      candidates = successful.filter((run) => passed.has(run.id));
    }
    const current = currentRunId === undefined ? undefined : await this.runs.findById(currentRunId);
    const allowed = environment.allowedBranches;
    return candidates
      .filter(
        (run) =>
          (current === undefined || run.number > current.number) &&
          !pendingRunIds.includes(run.id) &&
          (allowed === undefined ||
            (run.branch !== undefined &&
              allowed.some((glob) => matchesGlob(run.branch ?? '', glob)))),
      )
      .slice(0, PROMOTABLE);
  }

  /** Whether `run` may be promoted to `environment` now: the policy, then what is under way. */
  private async eligibility(
    run: Run,
    environment: Environment,
    pending: Promotion[],
  ): Promise<EligibilityResponse> {
    const refusal =
      (await promotionRefusalFor(run, environment, {
        environments: this.environments,
        promotions: this.promotions,
        runs: this.runs,
      })) ?? underWay(run, environment, pending);
    return refusal === undefined
      ? { run: run.id, eligible: true }
      : { run: run.id, eligible: false, reason: refusal };
  }

  private async successfulBuilds(repositoryId: string): Promise<Run[]> {
    const page = await this.runs.list(repositoryId, { limit: LOOK_BACK, state: 'success' });
    return page.runs.filter((run) => run.event !== 'promote' && run.event !== 'pull_request');
  }
}

/** The refusal the service gives a second promotion of a run to one environment, if one is open. */
function underWay(run: Run, environment: Environment, pending: Promotion[]): string | undefined {
  const open = pending.find((promotion) => promotion.runId === run.id);
  return open === undefined ? undefined : alreadyPromoting(run.number, environment.name, open);
}
