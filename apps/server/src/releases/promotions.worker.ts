import { PromotionPayload, QUEUES, toPayload } from '@kiln/queue';
import { Processor, WorkerHost } from '@nestjs/bullmq';
import type { Job } from 'bullmq';
import { PromotionsService } from './promotions.service';

/** Promotions' follow-ups: a deploy run's end frees its environment; approvals expire. */
@Processor(QUEUES.promotions, { concurrency: 4 })
export class PromotionsWorker extends WorkerHost {
  constructor(private readonly promotions: PromotionsService) {
    super();
  }

  async process(job: Job<unknown>): Promise<void> {
    const { kind, id } = toPayload(PromotionPayload, QUEUES.promotions, job.data);
    if (kind === 'deploy-ended') await this.promotions.deployEnded(id);
    else await this.promotions.expire(id);
  }
}
