/**
 * When the server's background workers (triggering runs, reporting commit statuses) step aside
 * for its intake. Webhooks and background work share one event loop; under a burst of webhooks
 * the workers took a fifth of it, and every webhook waited longer for its answer. A forge waits
 * about 10 s for an answer and retries or gives up after; a run's trigger can wait a second. So
 * while webhooks arrive and the loop is saturated, the workers pause, for at most
 * {@link MAX_PAUSE_MS} at a time and then run at least {@link MIN_RUN_MS}: under a burst that
 * never ends, background work still gets a fifth of the time.
 */

/** The event loop's busy share above which the workers pause while webhooks arrive. */
export const SATURATED = 0.9;
/** The busy share below which paused workers resume at once. */
export const RELIEVED = 0.7;
export const MAX_PAUSE_MS = 2_000;
export const MIN_RUN_MS = 500;

export interface PressureSample {
  /** The event loop's utilization over the last interval, 0 to 1. */
  utilization: number;
  /** Webhooks received over the last interval. */
  webhooks: number;
}

export interface YieldState {
  paused: boolean;
  /** When the workers last paused or resumed, in milliseconds. */
  since: number;
}

/** Whether the background workers should be paused after this sample. */
export function shouldPause(state: YieldState, sample: PressureSample, now: number): boolean {
  const held = now - state.since;
  if (state.paused) {
    const relieved = sample.webhooks === 0 || sample.utilization < RELIEVED;
    return !relieved && held < MAX_PAUSE_MS;
  }
  return sample.webhooks > 0 && sample.utilization >= SATURATED && held >= MIN_RUN_MS;
}
