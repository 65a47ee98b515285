import {
  BuildPayload,
  PromotionPayload,
  QUEUES,
  RedisHealth,
  SchedulePayload,
  StatusPayload,
  TriggerPayload,
  type REPORTED_STATES,
} from '@kiln/queue';
import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, ServiceUnavailableException } from '@nestjs/common';
import type { Queue } from 'bullmq';

const KEEP = { removeOnComplete: true, removeOnFail: 1_000 } as const;

/** The answer to a call that needs the queues while Redis is away; `what` says what did not happen. */
export function queuesUnavailable(what: string): ServiceUnavailableException {
  return new ServiceUnavailableException(
    `the run queue (Redis) is unavailable: ${what}; try again shortly`,
  );
}

/**
 * The pipeline's queues, behind one adapter so services never touch BullMQ. Job ids make every
 * add idempotent while the earlier job exists; the database stays the truth (a restarted server
 * re-adds what the database says is due).
 */
@Injectable()
export class PipelineQueues {
  /** Triggers asked for in this turn, added together at its end (see `trigger`). */
  private readonly triggersDue: {
    runId: string;
    resolve: () => void;
    reject: (error: unknown) => void;
  }[] = [];

  constructor(
    @InjectQueue(QUEUES.triggers) private readonly triggers: Queue<TriggerPayload>,
    @InjectQueue(QUEUES.builds) private readonly builds: Queue<BuildPayload>,
    @InjectQueue(QUEUES.statuses) private readonly statuses: Queue<StatusPayload>,
    @InjectQueue(QUEUES.schedules) private readonly schedules: Queue<SchedulePayload>,
    @InjectQueue(QUEUES.promotions) private readonly promotions: Queue<PromotionPayload>,
    private readonly redis: RedisHealth,
  ) {}

  /**
   * Whether the queues take a job now. While Redis is away an add waits for it to return (the
   * connection retries for ever, as BullMQ's workers need): ask before anything depends on one.
   */
  async ready(): Promise<boolean> {
    return (await this.redis.check()).up;
  }

  /**
   * Fires `scheduleId` on its cron pattern (UTC), replacing an earlier pattern; throws on a
   * pattern BullMQ's cron parser refuses.
   */
  async schedule(scheduleId: string, cron: string): Promise<void> {
    await this.schedules.upsertJobScheduler(
      scheduleId,
      { pattern: cron, tz: 'UTC' },
      { name: 'schedule', data: { scheduleId }, opts: KEEP },
    );
  }

  async unschedule(scheduleId: string): Promise<void> {
    await this.schedules.removeJobScheduler(scheduleId);
  }

  /**
   * Queues a run's trigger. The triggers asked for in one turn of the event loop (the runs of
   * one batch of webhooks) go to Redis as one `addBulk`: one round trip instead of one each.
   * Resolves once its own is queued; rejects, with every other of its bulk, if the bulk fails.
   */
  trigger(runId: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.triggersDue.push({ runId, resolve, reject });
      if (this.triggersDue.length === 1) setImmediate(() => this.addTriggers());
    });
  }

  private addTriggers(): void {
    const due = this.triggersDue.splice(0);
    void this.triggers
      .addBulk(
        due.map(({ runId }) => ({
          name: 'trigger',
          data: { runId },
          opts: {
            jobId: runId,
            attempts: 5,
            backoff: { type: 'exponential', delay: 1_000 },
            ...KEEP,
          },
        })),
      )
      .then(
        () => due.forEach(({ resolve }) => resolve()),
        (error: unknown) => due.forEach(({ reject }) => reject(error)),
      );
  }

  /**
   * Queues a pending run's trigger again, after a restart: a trigger that failed for good is
   * kept under the run's id for a while (and would make a new add a no-op), so it goes first.
   */
  async retrigger(runId: string): Promise<void> {
    const earlier = await this.triggers.getJob(runId);
    if (earlier !== undefined && (await earlier.isFailed())) await earlier.remove();
    await this.trigger(runId);
  }

  /**
   * Queues a job attempt's build again unless the queue holds it (waiting, under way, or done):
   * what the database holds as queued, after the queue lost it. With `failed`, one that failed for
   * good is queued again too (it goes first, as a new add of its id would be a no-op).
   */
  async rebuild(jobId: string, attempt: number, { failed }: { failed: boolean }): Promise<void> {
    const earlier = await this.builds.getJob(`${jobId}-${attempt}`);
    if (earlier !== undefined && !(failed && (await earlier.isFailed()))) return;
    await earlier?.remove();
    await this.build(jobId, attempt);
  }

  /** A queued job attempt; lower `priority` numbers go first (BullMQ: 0 = none, 1 = highest). */
  async build(jobId: string, attempt: number, priority = 0): Promise<void> {
    await this.builds.add(
      'build',
      { jobId, attempt },
      {
        jobId: `${jobId}-${attempt}`,
        priority,
        attempts: 3,
        backoff: { type: 'exponential', delay: 1_000 },
        ...KEEP,
      },
    );
  }

  async status(runId: string, state: (typeof REPORTED_STATES)[number]): Promise<void> {
    await this.statuses.add(
      'status',
      { runId, state },
      // Forges are down at times: keep trying for about an hour, then give up on that state.
      {
        jobId: `${runId}-${state}`,
        attempts: 12,
        backoff: { type: 'exponential', delay: 2_000 },
        ...KEEP,
      },
    );
  }

  /** A promote run ended: its promotion ends and frees its environment's deploy lock. */
  async deployEnded(runId: string): Promise<void> {
    await this.promotions.add(
      'deploy-ended',
      { kind: 'deploy-ended', id: runId },
      {
        jobId: `deploy-ended-${runId}`,
        attempts: 10,
        backoff: { type: 'exponential', delay: 500 },
        ...KEEP,
      },
    );
  }

  /** Ends a promotion still awaiting approval at `at` (a no-op if it was decided by then). */
  async expirePromotion(promotionId: string, at: Date): Promise<void> {
    await this.promotions.add(
      'expire',
      { kind: 'expire', id: promotionId },
      {
        jobId: `expire-${promotionId}`,
        delay: Math.max(0, at.getTime() - Date.now()),
        attempts: 5,
        backoff: { type: 'exponential', delay: 1_000 },
        ...KEEP,
      },
    );
  }
}
