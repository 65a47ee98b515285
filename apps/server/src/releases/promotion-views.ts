import {
  AccountsRepository,
  ArtifactsRepository,
  EnvironmentsRepository,
  PromotionsRepository,
  RepositoriesRepository,
  RunsRepository,
  type Environment,
  type Promotion,
  type Run,
} from '@kiln/persistence';
import { Injectable } from '@nestjs/common';
import type { EnvironmentResponse, PromotionResponse, RunSummaryResponse } from './releases.dto';

/** Lookups memoised for one response: a board shows the same runs and people many times. */
class Lookups {
  private readonly cache = new Map<string, Promise<unknown>>();

  once<T>(key: string, load: () => Promise<T>): Promise<T> {
    let value = this.cache.get(key) as Promise<T> | undefined;
    if (value === undefined) {
      value = load();
      this.cache.set(key, value);
    }
    return value;
  }
}

/** Promotions and environments as the API shows them: names, not ids; runs as summaries. */
@Injectable()
export class PromotionViews {
  constructor(
    private readonly promotions: PromotionsRepository,
    private readonly environments: EnvironmentsRepository,
    private readonly runs: RunsRepository,
    private readonly repositories: RepositoriesRepository,
    private readonly accounts: AccountsRepository,
    private readonly artifacts: ArtifactsRepository,
  ) {}

  async many(promotions: readonly Promotion[]): Promise<PromotionResponse[]> {
    const lookups = new Lookups();
    const decisions = await this.promotions.decisions(promotions.map((p) => p.id));
    return Promise.all(
      promotions.map(async (promotion): Promise<PromotionResponse> => {
        const [repository, environment, run, deployRun, requester, artifacts, approvals] =
          await Promise.all([
            lookups.once(`repo:${promotion.repositoryId}`, () =>
              this.repositories.findById(promotion.repositoryId),
            ),
            lookups.once(`env:${promotion.environmentId}`, () =>
              this.environments.findById(promotion.environmentId),
            ),
            lookups.once(`run:${promotion.runId}`, () => this.runs.findById(promotion.runId)),
            promotion.deployRunId === undefined
              ? undefined
              : this.runs.findById(promotion.deployRunId),
            this.username(lookups, promotion.requestedBy),
            lookups.once(`artifacts:${promotion.runId}`, () =>
              this.artifacts.listByRun(promotion.runId),
            ),
            Promise.all(
              (decisions.get(promotion.id) ?? []).map(async (decision) => ({
                user: await this.username(lookups, decision.userId),
                decision: decision.decision,
                ...(decision.comment === undefined ? {} : { comment: decision.comment }),
                at: decision.at.toISOString(),
              })),
            ),
          ]);
        return {
          id: promotion.id,
          repositoryId: promotion.repositoryId,
          repositoryFullName: repository?.fullName ?? '(deleted)',
          environment: environment?.name ?? '(deleted)',
          state: promotion.state,
          run: run === undefined ? { id: promotion.runId, number: 0, sha: '' } : toRunSummary(run),
          ...(deployRun === undefined
            ? {}
            : {
                deployRun: { id: deployRun.id, number: deployRun.number, state: deployRun.state },
              }),
          rollback: promotion.rollback,
          requestedBy: requester,
          requestedAt: promotion.requestedAt.toISOString(),
          ...(promotion.comment === undefined ? {} : { comment: promotion.comment }),
          requiredApprovals: promotion.requiredApprovals,
          approvals,
          ...(promotion.expiresAt === undefined || promotion.state !== 'awaiting-approval'
            ? {}
            : { expiresAt: promotion.expiresAt.toISOString() }),
          ...(promotion.startedAt === undefined
            ? {}
            : { startedAt: promotion.startedAt.toISOString() }),
          ...(promotion.finishedAt === undefined
            ? {}
            : { finishedAt: promotion.finishedAt.toISOString() }),
          ...(promotion.statusMessage === undefined
            ? {}
            : { statusMessage: promotion.statusMessage }),
          artifacts: artifacts.map((artifact) => ({
            job: artifact.jobKey,
            name: artifact.name,
            sha256: artifact.sha256,
            size: artifact.size,
          })),
        };
      }),
    );
  }

  async one(promotion: Promotion): Promise<PromotionResponse> {
    const [view] = await this.many([promotion]);
    if (view === undefined) throw new Error('a view of one promotion is one view');
    return view;
  }

  private username(lookups: Lookups, userId: string): Promise<string> {
    return lookups.once(
      `user:${userId}`,
      async () => (await this.accounts.findUser(userId))?.username ?? '(deleted user)',
    );
  }
}

export function toRunSummary(run: Run): RunSummaryResponse {
  return {
    id: run.id,
    number: run.number,
    sha: run.sha,
    ...(run.branch === undefined ? {} : { branch: run.branch }),
    ...(run.message === undefined ? {} : { message: run.message }),
    ...(run.author === undefined ? {} : { author: run.author }),
    ...(run.finishedAt === undefined ? {} : { finishedAt: run.finishedAt.toISOString() }),
  };
}

export function toEnvironmentResponse(
  environment: Environment,
  all: readonly Environment[],
): EnvironmentResponse {
  const previous = all.find((e) => e.id === environment.previousId)?.name;
  return {
    id: environment.id,
    repositoryId: environment.repositoryId,
    name: environment.name,
    ...(previous === undefined ? {} : { previous }),
    requiredApprovals: environment.requiredApprovals,
    ...(environment.allowedBranches === undefined
      ? {}
      : { allowedBranches: environment.allowedBranches }),
    approvalTimeoutMinutes: environment.approvalTimeoutMinutes,
    createdAt: environment.createdAt.toISOString(),
  };
}
