import { QUEUES, SchedulePayload, toPayload } from '@kiln/queue';
import { Processor, WorkerHost } from '@nestjs/bullmq';
import type { Job } from 'bullmq';
import { SchedulesService } from './schedules.service';

@Processor(QUEUES.schedules, { concurrency: 4 })
export class SchedulesWorker extends WorkerHost {
  constructor(private readonly schedules: SchedulesService) {
    super();
  }

  async process(job: Job<unknown>): Promise<void> {
    const { scheduleId } = toPayload(SchedulePayload, QUEUES.schedules, job.data);
    await this.schedules.fire(scheduleId);
  }
}
