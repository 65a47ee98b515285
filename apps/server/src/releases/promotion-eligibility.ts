import type {
  Environment,
  EnvironmentsRepository,
  PromotionsRepository,
  Run,
  RunsRepository,
} from '@kiln/persistence';
import { promotionRefusal } from './promotion-policy';

/** The stores the policy's facts come from. */
export interface EligibilitySources {
  environments: Pick<EnvironmentsRepository, 'findById'>;
  promotions: Pick<PromotionsRepository, 'deployedRuns'>;
  runs: Pick<RunsRepository, 'findById'>;
}

/**
 * Why the policy refuses `run` in `environment` now, or undefined when it may go there: the one
 * place that gathers what promotionRefusal looks at, for a request and for the board alike.
 */
export async function promotionRefusalFor(
  run: Run,
  environment: Environment,
  sources: EligibilitySources,
): Promise<string | undefined> {
  const previous =
    environment.previousId === undefined
      ? undefined
      : await sources.environments.findById(environment.previousId);
  const promotedRun =
    run.promotedRunId === undefined ? undefined : await sources.runs.findById(run.promotedRunId);
  const deployedToPrevious =
    previous !== undefined &&
    (await sources.promotions.deployedRuns(previous.id, [run.id])).has(run.id);
  return promotionRefusal(
    {
      number: run.number,
      state: run.state,
      event: run.event,
      ...(run.branch === undefined ? {} : { branch: run.branch }),
      ...(promotedRun === undefined ? {} : { promotedRunNumber: promotedRun.number }),
      ...(run.artifactsDeletedAt === undefined
        ? {}
        : { artifactsDeletedAt: run.artifactsDeletedAt }),
    },
    {
      name: environment.name,
      ...(environment.allowedBranches === undefined
        ? {}
        : { allowedBranches: environment.allowedBranches }),
      ...(previous === undefined ? {} : { previous: previous.name }),
    },
    deployedToPrevious,
  );
}
