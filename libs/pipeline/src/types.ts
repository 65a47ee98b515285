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
  timeoutSeconds: number;
  retry: number;
  allowFailure: boolean;
  secrets: string[];
  artifacts: string[];
}

export interface ExecutionPlan {
  /** Topologically ordered: every job comes after the jobs it needs. */
  jobs: PlanJob[];
  /**
   * Jobs whose `when` does not match the trigger, or that need such a job; in a promote run,
   * also every job whose `when.event` does not name `promote` (built in the promoted run).
   */
  skipped: { key: string; reason: string }[];
}

/** The whole pipeline did not run: its top-level `when` does not match the trigger. */
export interface SkippedPipeline {
  skippedPipeline: string;
}
