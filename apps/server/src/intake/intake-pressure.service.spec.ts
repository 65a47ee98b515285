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
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('pauses its workers while webhooks saturate the loop, then resumes them', () => {
    const service = new IntakePressureService();
    const a = host();
    const b = host();
    service.yields(a.host);
    service.yields(b.host);
    service.onModuleInit();

    utilization = 0.99;
    for (let i = 0; i < 5; i += 1) service.webhook();
    vi.advanceTimersByTime(100);
    expect(a.calls).toEqual(['pause(true)']);
    expect(b.calls).toEqual(['pause(true)']);

    // No more webhooks: whatever keeps the loop busy, the workers come back.
    vi.advanceTimersByTime(100);
    expect(a.calls).toEqual(['pause(true)', 'resume']);
    service.onModuleDestroy();
  });

  it('resumes its workers after the longest pause, however long the burst', () => {
    const service = new IntakePressureService();
    const a = host();
    service.yields(a.host);
    service.onModuleInit();
    utilization = 0.99;

    for (let t = 0; t <= MAX_PAUSE_MS; t += 100) {
      for (let i = 0; i < 5; i += 1) service.webhook();
      vi.advanceTimersByTime(100);
    }

    expect(a.calls).toEqual(['pause(true)', 'resume']);
    service.onModuleDestroy();
  });

  it('leaves its workers alone while the loop has room', () => {
    const service = new IntakePressureService();
    const a = host();
    service.yields(a.host);
    service.onModuleInit();
    utilization = 0.5;
    for (let i = 0; i < 5; i += 1) service.webhook();
    vi.advanceTimersByTime(1_000);

    expect(a.calls).toEqual([]);
    service.onModuleDestroy();
  });
});
