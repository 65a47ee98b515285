export const EVENTS = ['push', 'pull_request', 'tag', 'manual', 'cron', 'promote'] as const;
export type TriggerEvent = (typeof EVENTS)[number];

/** What started the run: the `when` filters are matched against it. */
export interface TriggerContext {
  event: TriggerEvent;
  branch?: string;
  tag?: string;
  /** Paths relative to the repository root; undefined when unknown, which lets `path` filters pass. */
  changedFiles?: string[];
  environment?: string;
}

export interface PlanStep {
  name: string;
  run: string;
}

export interface PlanJob {
  /** Unique in the plan: the job name, plus its matrix values for an expansion (`build (node=18)`). */
  key: string;
  /** The job's name in the YAML file. */
  name: string;
  matrix?: Record<string, string>;
  /** Absent: the job runs in a native cgroup container, without an image. */
  image?: string;
  steps: PlanStep[];
  /** Pipeline env, overridden by job env, overridden by the matrix values. */
  env: Record<string, string>;
  resources: { cpus: number; mem: number };
  /** Keys of the plan jobs this one waits for. */
  needs: string[];
  /**
   * In a promote run: keys of the jobs it needs that the promoted run built. Nothing waits for
   * them here (they are skipped), but they are still what the job comes after, as drawn.
   */
  promotedNeeds?: string[];
  timeoutSeconds: number;
  retry: number;
  allowFailure: boolean;
  secrets: string[];
  artifacts: string[];
}

/** A job that does not run: why, and the keys of the jobs its file says it needs. */
export interface SkippedJob {
  key: string;
  reason: string;
  needs: string[];
}

export interface ExecutionPlan {
  /** Topologically ordered: every job comes after the jobs it needs. */
  jobs: PlanJob[];
  /**
   * Jobs whose `when` does not match the trigger, or that need such a job; in a promote run,
   * also every job whose `when.event` does not name `promote` (built in the promoted run).
   */
  skipped: SkippedJob[];
}

/** The whole pipeline did not run: its top-level `when` does not match the trigger. */
export interface SkippedPipeline {
  skippedPipeline: string;
}
