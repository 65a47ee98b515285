import { describe, expect, it } from 'vitest';
import { MAX_PAUSE_MS, MIN_RUN_MS, shouldPause } from './intake-pressure';

describe(shouldPause.name, () => {
  const running = { paused: false, since: 0 };
  const paused = { paused: true, since: 0 };
  const burst = { utilization: 0.97, webhooks: 40 };

  it('pauses the workers while webhooks arrive on a saturated event loop', () => {
    expect(shouldPause(running, burst, MIN_RUN_MS)).toBe(true);
    expect(shouldPause(paused, burst, 100)).toBe(true);
  });

  it('leaves them running when the loop is busy with something else than webhooks, or not full', () => {
    expect(shouldPause(running, { utilization: 1, webhooks: 0 }, MIN_RUN_MS)).toBe(false);
    expect(shouldPause(running, { utilization: 0.8, webhooks: 40 }, MIN_RUN_MS)).toBe(false);
  });

  it('resumes them once webhooks stop or the loop has room', () => {
    expect(shouldPause(paused, { utilization: 0.97, webhooks: 0 }, 100)).toBe(false);
    expect(shouldPause(paused, { utilization: 0.5, webhooks: 40 }, 100)).toBe(false);
    // In between, it holds: no flapping at each sample.
    expect(shouldPause(paused, { utilization: 0.8, webhooks: 40 }, 100)).toBe(true);
  });

  it('never starves them: a pause ends after its longest, and a run lasts its shortest', () => {
    expect(shouldPause(paused, burst, MAX_PAUSE_MS)).toBe(false);
    expect(shouldPause(running, burst, MIN_RUN_MS - 1)).toBe(false);
  });
});
