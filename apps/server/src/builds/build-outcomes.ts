import type { ReconcileTask, TaskInfo, TaskStatus } from '@kiln/contracts';

/** A recording made with others: its answer, and what it left to do after their commit. */
export interface Recorded<T> {
  value: T;
  /** What had to wait for the commit (advancing the run, queueing a job); rejects on a failure. */
  finish(): Promise<void>;
}

/**
 * What the build framework needs of the runs it serves, implemented by the runs service: the
 * framework knows tasks and offers, the runs service knows jobs. Every method is idempotent: a
 * status can arrive twice (at-least-once), before or after a restart.
 */
export abstract class BuildOutcomes {
  /**
   * Runs `recordings` (each calls the task methods below) at once, with their database writes in
   * one transaction; resolves once it has committed, with each one's answer and the rest of its
   * work. Rejects, having committed nothing, when any of them fails.
   */
  abstract recordTogether<T>(recordings: ReadonlyArray<() => Promise<T>>): Promise<Recorded<T>[]>;
  /** The task for a queued job attempt, with a fresh task id; undefined: nothing to launch. */
  abstract prepareLaunch(jobId: string, attempt: number): Promise<TaskInfo | undefined>;
  /**
   * Records the task id and its agent before the launch; false: the job moved on (canceled), do
   * not launch.
   */
  abstract claimLaunch(
    jobId: string,
    attempt: number,
    taskId: string,
    agentId: string,
  ): Promise<boolean>;
  /** The launch did not happen: forget the task id so a later launch can claim another. */
  abstract releaseLaunch(jobId: string, taskId: string): Promise<void>;
  /** No agent of the cluster could ever run the job: it fails now, with the reason. */
  abstract unplaceable(jobId: string, attempt: number, reason: string): Promise<void>;
  /** Why a queued job still waits, for people. */
  abstract waiting(jobId: string, reason: string): Promise<void>;
  /** The task runs (or starts); `false`: its job has ended meanwhile (canceled), kill it. */
  abstract taskStarted(status: TaskStatus): Promise<boolean>;
  abstract taskEnded(status: TaskStatus): Promise<void>;
  /**
   * The task's agent is unreachable: the job keeps its attempt and waits, until `givenUpAt` at
   * most; `false`: its job has ended meanwhile (canceled), kill the task should it return.
   */
  abstract taskUnreachable(status: TaskStatus, givenUpAt: Date): Promise<boolean>;
  /** The task's agent stayed unreachable too long: its attempt ends as lost (retry or failure). */
  abstract taskGivenUp(taskId: string, message: string): Promise<void>;
  /** The cluster never heard of the task (it was claimed, the launch was lost in a crash). */
  abstract taskUnknown(taskId: string): Promise<void>;
  /**
   * Tasks claimed or running that are not known to have ended, with the agent each was launched
   * on: reconciled after (re)subscribing.
   */
  abstract activeTasks(): Promise<ReconcileTask[]>;
}
