/**
 * What the logs need to know of tasks and jobs, which the runs module owns: it implements this
 * class and provides it globally under this class as the token.
 */
export abstract class LogTasks {
  /** What ingest needs of a task: the secret values to mask and the step names; undefined: no such task. */
  abstract forIngest(
    taskId: string,
  ): Promise<{ secrets: string[]; stepNames: string[] } | undefined>;
  /** A job's attempts' task ids, oldest first, and whether the job has ended; undefined: no such job. */
  abstract ofJob(jobId: string): Promise<{ taskIds: string[]; ended: boolean } | undefined>;
}
