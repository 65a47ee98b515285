import { matchesGlob } from '@kiln/pipeline';

/** What the policy looks at in the run asked to be promoted. */
export interface PromotionCandidate {
  number: number;
  state: string;
  event: string;
  branch?: string;
  /** For a promote run: the number of the run it deploys. */
  promotedRunNumber?: number;
  /** When artifact retention deleted its artifacts. */
  artifactsDeletedAt?: Date;
}

/** What the policy looks at in the environment it is asked to go to. */
export interface PromotionTarget {
  name: string;
  allowedBranches?: readonly string[];
  /** The name of the environment the run must have been deployed to first. */
  previous?: string;
}

/**
 * Why `run` may not be promoted to `target`, for people, or undefined when it may. Pure: the
 * caller says whether the run has been deployed to the previous environment.
 */
export function promotionRefusal(
  run: PromotionCandidate,
  target: PromotionTarget,
  deployedToPrevious: boolean,
): string | undefined {
  if (run.event === 'promote') {
    const of = run.promotedRunNumber === undefined ? '' : ` of run #${run.promotedRunNumber}`;
    const instead =
      run.promotedRunNumber === undefined ? '' : `: promote run #${run.promotedRunNumber} instead`;
    return `run #${run.number} is a deployment${of}, not a build${instead}`;
  }
  if (run.event === 'pull_request') {
    // Its branch is the pull request's head, named by whoever opened it (a fork, maybe).
    return `run #${run.number} is a pull request's run: promote a run of the branch it merges into`;
  }
  if (run.state !== 'success') {
    return `run #${run.number} ended ${run.state}: only a successful run can be promoted`;
  }
  if (run.artifactsDeletedAt !== undefined) {
    return (
      `run #${run.number} has no artifacts any more (artifact retention deleted them on ` +
      `${run.artifactsDeletedAt.toISOString().slice(0, 10)}): build its commit again`
    );
  }
  const allowed = target.allowedBranches;
  if (allowed !== undefined) {
    const branch = run.branch;
    if (branch === undefined || !allowed.some((glob) => matchesGlob(branch, glob))) {
      const which =
        branch === undefined ? `run #${run.number} has no branch and` : `branch ${branch}`;
      return `${which} is not allowed in ${target.name} (allowed: ${allowed.join(', ')})`;
    }
  }
  if (target.previous !== undefined && !deployedToPrevious) {
    return `run #${run.number} has not been deployed to ${target.previous}: promote it to ${target.previous} first`;
  }
  return undefined;
}

/** Why a run may not be promoted to an environment it is already on its way to. */
export function alreadyPromoting(
  runNumber: number,
  environment: string,
  open: { id: string; state: string },
): string {
  return `run #${runNumber} is already being promoted to ${environment} (${open.state}, promotion ${open.id})`;
}

/** Whether making `previousId` the previous environment of `id` would close a cycle. */
export function closesCycle(
  environments: readonly { id: string; previousId?: string }[],
  id: string,
  previousId: string,
): boolean {
  const previousOf = new Map(environments.map((e) => [e.id, e.previousId]));
  previousOf.set(id, previousId);
  const seen = new Set<string>();
  for (let at: string | undefined = id; at !== undefined; at = previousOf.get(at)) {
    if (seen.has(at)) return true;
    seen.add(at);
  }
  return false;
}
