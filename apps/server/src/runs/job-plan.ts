import type { Job } from '@kiln/persistence';
import type { PlanJob, SkippedJob } from '@kiln/pipeline';

/** The compiled plan of a stored job (written by the trigger service from a PlanJob). */
export function planOf(job: Job): PlanJob {
  return job.plan as PlanJob;
}

/**
 * The plan stored for a job its `when` skipped: it never runs, so only its key matters, and its
 * needs, which the run's graph draws.
 */
export function skippedPlan(skipped: SkippedJob): PlanJob {
  return {
    key: skipped.key,
    name: skipped.key,
    steps: [],
    env: {},
    resources: { cpus: 0, mem: 0 },
    needs: skipped.needs,
    timeoutSeconds: 0,
    retry: 0,
    allowFailure: true,
    secrets: [],
    artifacts: [],
  };
}
