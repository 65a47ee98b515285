import { errorMessage } from '@kiln/common';
import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { WorkerHost } from '@nestjs/bullmq';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { shouldPause, type YieldState } from './intake-pressure';

/** How often the event loop's load is looked at. */
const SAMPLE_MS = 100;

/**
 * Pauses the background workers registered with it while webhooks saturate the event loop, and
 * resumes them (see `intake-pressure.ts`). Pausing only stops a worker taking new jobs: those
 * under way finish, and the jobs wait in their queues.
 */
@Injectable()
export class IntakePressureService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(IntakePressureService.name);
  private readonly hosts: WorkerHost[] = [];
  private webhooks = 0;
  private state: YieldState = { paused: false, since: 0 };
  private timer: NodeJS.Timeout | undefined;
  private last: EventLoopUtilization | undefined;

  /** A worker that steps aside for the intake. */
  yields(host: WorkerHost): void {
    this.hosts.push(host);
  }

  /** A webhook has arrived. */
  webhook(): void {
    this.webhooks += 1;
  }

  onModuleInit(): void {
    this.last = performance.eventLoopUtilization();
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  private sample(): void {
    const now = performance.eventLoopUtilization();
    const { utilization } = performance.eventLoopUtilization(now, this.last);
    this.last = now;
    const sample = { utilization, webhooks: this.webhooks };
    this.webhooks = 0;
    const pause = shouldPause(this.state, sample, Date.now());
    if (pause === this.state.paused) return;
    this.state = { paused: pause, since: Date.now() };
    this.logger.debug(
      `${pause ? 'pausing' : 'resuming'} background workers: event loop ` +
        `${Math.round(utilization * 100)}% busy, ${sample.webhooks} webhooks in ${SAMPLE_MS} ms`,
    );
    for (const host of this.hosts) {
      try {
        if (pause) {
          // Not waiting for the jobs under way: they finish on their own.
          host.worker.pause(true).catch((error: unknown) => this.failed(error));
        } else {
          host.worker.resume();
        }
      } catch (error) {
        this.failed(error);
      }
    }
  }

  private failed(error: unknown): void {
    this.logger.warn(`pausing or resuming a worker failed: ${errorMessage(error)}`);
  }
}
