import { errorMessage } from '@kiln/common';
import { QUEUES, toPayload, TriggerPayload } from '@kiln/queue';
import { Processor, WorkerHost } from '@nestjs/bullmq';
import type { Job } from 'bullmq';
import { TriggerService } from './trigger.service';

/** Pending runs → jobs, a few at a time (each reads git). */
@Processor(QUEUES.triggers, { concurrency: 8 })
export class TriggerWorker extends WorkerHost {
  constructor(private readonly triggers: TriggerService) {
    super();
  }

  async process(job: Job<unknown>): Promise<void> {
    const { runId } = toPayload(TriggerPayload, QUEUES.triggers, job.data);
    const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    try {
      await this.triggers.start(runId, lastAttempt);
    } catch (error) {
      if (!lastAttempt) throw error;
      await this.triggers.abandon(runId, errorMessage(error));
    }
  }
}
