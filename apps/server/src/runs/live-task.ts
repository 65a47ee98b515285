import { TERMINAL_JOB_STATES, type Job } from '@kiln/persistence';
import { ConflictException, NotFoundException } from '@nestjs/common';

/**
 * The job `taskId` is the current task of, while that job has not ended: what a task's token may
 * act on. Once its job has ended, the token no longer fetches its commit nor replaces its
 * artifacts, which are then what the job made (its log alone may still be on its way, and is taken
 * elsewhere).
 */
export function jobOfLiveTask(job: Job | undefined, taskId: string): Job {
  if (job === undefined) {
    throw new NotFoundException(`task ${taskId} is not the current task of a job`);
  }
  if (TERMINAL_JOB_STATES.includes(job.state)) {
    throw new ConflictException(
      `job ${job.id} has ended (${job.state}): task ${taskId} may no longer act on it`,
    );
  }
  return job;
}
