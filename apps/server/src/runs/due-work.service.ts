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
 * - each queued job's build, while it has no task, unless its queue holds it (see {@link sweep});
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
  private stopped = false;

  constructor(
    private readonly runs: RunsRepository,
    private readonly jobs: JobsRepository,
    private readonly queues: PipelineQueues,
    private readonly progress: RunProgressService,
  ) {}

  /** Not waited for: the server serves meanwhile (a Redis away would hold its start). */
  onApplicationBootstrap(): void {
    void this.sweep({ starting: true }).then(() => {
      if (this.stopped) return;
      this.timer = setInterval(() => void this.sweep({ starting: false }), DUE_WORK_SWEEP_MS);
      // Never what keeps a process from ending.
      this.timer.unref();
    });
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.sweeping;
  }

  /**
   * One pass, one at a time. At the start, a build that failed for good is queued again too (a
   * server stopping fails what it held); later only one its queue lost, so that a build that
   * fails whatever is tried (a key changed, say) is not tried again every minute.
   */
  sweep({ starting }: { starting: boolean }): Promise<void> {
    this.sweeping ??= this.sweepOnce(starting).finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  private async sweepOnce(starting: boolean): Promise<void> {
    if (starting) {
      await this.each('re-queuing pending run', this.runs.listByState(['pending']), (run) =>
        this.queues.retrigger(run.id),
      );
    }
    await this.each('re-queuing queued job', this.jobs.listByState(['queued']), async (job) => {
      if (job.taskId === undefined) {
        await this.queues.rebuild(job.id, job.attempt, { failed: starting });
      }
    });
    await this.each('moving on running run', this.runs.listByState(['running']), (run) =>
      this.progress.advance(run.id),
    );
  }

  /** Each item apart: one that fails is logged, and tried again at the next sweep. */
  private async each<T extends { id: string }>(
    what: string,
    items: Promise<T[]>,
    work: (item: T) => Promise<void>,
  ): Promise<void> {
    let listed: T[];
    try {
      listed = await items;
    } catch (error) {
      this.logger.error(`${what}s failed: ${errorMessage(error)}`);
      return;
    }
    for (const item of listed) {
      if (this.stopped) return;
      try {
        await work(item);
      } catch (error) {
        this.logger.error(`${what} ${item.id} failed: ${errorMessage(error)}`);
      }
    }
  }
}
