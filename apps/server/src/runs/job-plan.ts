import type { Job } from '@kiln/persistence';
import type { PlanJob } from '@kiln/pipeline';

/** The compiled plan of a stored job (written by the trigger service from a PlanJob). */
export function planOf(job: Job): PlanJob {
  return job.plan as PlanJob;
}

/** The plan stored for a job its `when` skipped: it never runs, so only its key matters. */
export function skippedPlan(key: string): PlanJob {
  return {
    key,
    name: key,
    steps: [],
    env: {},
    resources: { cpus: 0, mem: 0 },
    needs: [],
    timeoutSeconds: 0,
    retry: 0,
    allowFailure: true,
    secrets: [],
    artifacts: [],
  };
}
