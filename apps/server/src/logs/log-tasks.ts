/** A job's attempts as its log sees them. */
export interface JobAttempts {
  /** The job's attempt now (1 for the first try); 0 if it was never queued. */
  attempt: number;
  /**
   * The task of each attempt that launched one, by attempt number. An attempt queued but not
   * launched yet has none, nor has one that ended before it launched (canceled while it waited).
   */
  taskIds: ReadonlyMap<number, string>;
  /** The job has ended: no task comes any more, and no more output. */
  ended: boolean;
}

/**
 * What the logs need to know of tasks and jobs, which the runs module owns: it implements this
 * class and provides it globally under this class as the token.
 */
export abstract class LogTasks {
  /** What ingest needs of a task: the secret values to mask and the step names; undefined: no such task. */
  abstract forIngest(
    taskId: string,
  ): Promise<{ secrets: string[]; stepNames: string[] } | undefined>;
  /** A job's attempts and their tasks; undefined: no such job. */
  abstract ofJob(jobId: string): Promise<JobAttempts | undefined>;
}

/** The task of the latest attempt that launched one: what a log shows when no attempt is named. */
export function latestTaskId(job: JobAttempts): string | undefined {
  let latest: { attempt: number; taskId: string } | undefined;
  for (const [attempt, taskId] of job.taskIds) {
    if (latest === undefined || attempt > latest.attempt) latest = { attempt, taskId };
  }
  return latest?.taskId;
}
