import { errorMessage } from '@kiln/common';
import { QUEUES, toPayload, TriggerPayload } from '@kiln/queue';
import { Processor, WorkerHost } from '@nestjs/bullmq';
import type { Job } from 'bullmq';
import { IntakePressureService } from '../intake/intake-pressure.service';
import { TriggerService } from './trigger.service';

/** Pending runs → jobs, a few at a time (each reads git); stepping aside for a webhook burst. */
@Processor(QUEUES.triggers, { concurrency: 8 })
export class TriggerWorker extends WorkerHost {
  constructor(
    private readonly triggers: TriggerService,
    pressure: IntakePressureService,
  ) {
    super();
    pressure.yields(this);
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
