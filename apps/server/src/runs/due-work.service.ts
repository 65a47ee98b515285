import { errorMessage } from '@kiln/common';
import { JobsRepository, RunsRepository } from '@kiln/persistence';
import {
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { PipelineQueues } from './pipeline-queues';
import { RunProgressService } from './run-progress.service';

/** How often what the database says is due is queued again, should a queue have lost it. */
export const DUE_WORK_SWEEP_MS = 60_000;

/**
 * What the database says is due, queued again: the queues (Redis) only carry it. A write is
 * committed before what it queues is added, so a server killed between the two, a Redis that was
 * down when the add was tried, or a Redis that lost its data would otherwise leave a run waiting
 * for good (found by a tester: runs `running` for ever, a job `queued` with no task). At the start,
 * then every {@link DUE_WORK_SWEEP_MS}:
 * - each pending run's trigger (at the start only: a trigger is retried by its queue);
 * - each queued job's build, while it has no task, unless its queue holds it;
 * - each running run moved on, as a job's end moves it: a blocked job whose needs have ended is
 *   queued, and a run whose jobs have all ended ends.
 *
 * Each of these is idempotent: queue entries are named by run and job attempt, and the database's
 * moves are compare-and-set, so servers sweeping together, or a sweep beside the work it repairs,
 * do nothing twice.
 */
@Injectable()
export class DueWork implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(DueWork.name);
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;

  constructor(
    private readonly runs: RunsRepository,
    private readonly jobs: JobsRepository,
    private readonly queues: PipelineQueues,
    private readonly progress: RunProgressService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.step('re-queuing pending runs', async () => {
      for (const run of await this.runs.listByState(['pending'])) {
        await this.queues.retrigger(run.id);
      }
    });
    await this.sweep();
    this.timer = setInterval(() => void this.sweep(), DUE_WORK_SWEEP_MS);
    // Never what keeps a process from ending.
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.sweeping;
  }

  /** One pass over the queued jobs and running runs; one at a time. */
  sweep(): Promise<void> {
    this.sweeping ??= this.sweepOnce().finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  private async sweepOnce(): Promise<void> {
    await this.step('re-queuing queued jobs', async () => {
      for (const job of await this.jobs.listByState(['queued'])) {
        if (job.taskId === undefined) await this.queues.rebuild(job.id, job.attempt);
      }
    });
    await this.step('moving running runs on', async () => {
      for (const run of await this.runs.listByState(['running'])) {
        await this.progress.advance(run.id);
      }
    });
  }

  /** A step that fails is logged, and tried again at the next sweep. */
  private async step(what: string, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      this.logger.error(`${what} failed: ${errorMessage(error)}`);
    }
  }
}
