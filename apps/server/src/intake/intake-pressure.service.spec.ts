import type { WorkerHost } from '@nestjs/bullmq';
import { performance } from 'node:perf_hooks';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MAX_PAUSE_MS } from './intake-pressure';
import { IntakePressureService } from './intake-pressure.service';

/** A worker host whose worker records what it was told. */
function host(): { host: WorkerHost; calls: string[] } {
  const calls: string[] = [];
  const worker = {
    pause: (doNotWaitActive: boolean) => {
      calls.push(`pause(${doNotWaitActive})`);
      return Promise.resolve();
    },
    resume: () => calls.push('resume'),
  };
  return { host: { worker } as unknown as WorkerHost, calls };
}

describe(IntakePressureService.name, () => {
  let utilization: number;
  let service: IntakePressureService;

  /** The service sampling, with `count` workers yielding to it. */
  function started(count: number): string[][] {
    service = new IntakePressureService();
    const workers = Array.from({ length: count }, host);
    for (const { host: worker } of workers) service.yields(worker);
    service.onModuleInit();
    return workers.map((w) => w.calls);
  }

  /** `count` webhooks, then one sampling interval. */
  function webhooksFor(count: number): void {
    for (let i = 0; i < count; i += 1) service.webhook();
    vi.advanceTimersByTime(100);
  }

  beforeEach(() => {
    vi.useFakeTimers();
    utilization = 0;
    // The service asks for the utilization between two readings: the test says what it is.
    vi.spyOn(performance, 'eventLoopUtilization').mockImplementation(() => ({
      idle: 0,
      active: 0,
      utilization,
    }));
  });
  afterEach(() => {
    service.onModuleDestroy();
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('pauses its workers while webhooks saturate the loop, then resumes them', () => {
    const [a, b] = started(2);

    utilization = 0.99;
    webhooksFor(5);
    expect(a).toEqual(['pause(true)']);
    expect(b).toEqual(['pause(true)']);

    // No more webhooks: whatever keeps the loop busy, the workers come back.
    webhooksFor(0);
    expect(a).toEqual(['pause(true)', 'resume']);
  });

  it('resumes its workers after the longest pause, however long the burst', () => {
    const [a] = started(1);
    utilization = 0.99;

    for (let t = 0; t <= MAX_PAUSE_MS; t += 100) webhooksFor(5);

    expect(a).toEqual(['pause(true)', 'resume']);
  });

  it('leaves its workers alone while the loop has room', () => {
    const [a] = started(1);
    utilization = 0.5;

    for (let t = 0; t < 1_000; t += 100) webhooksFor(5);

    expect(a).toEqual([]);
  });
});
