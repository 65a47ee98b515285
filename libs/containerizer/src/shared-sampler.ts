/**
 * One periodic measurement round for all of a containerizer's running containers, ticking only
 * while any runs. Concurrent callers of {@link now} share the round under way, and a failed
 * round is a missed sample, not an error: the next one will do.
 */
export class SharedSampler {
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;

  constructor(
    private readonly intervalMs: number,
    private readonly measure: () => Promise<void>,
  ) {}

  /**
   * Starts or stops the ticking for `running` containers. It keeps the event loop alive only
   * when `keepAlive` (recovered containers, which no child process handle keeps alive).
   */
  update(running: number, keepAlive: boolean): void {
    if (running === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
      return;
    }
    this.timer ??= setInterval(() => void this.now(), this.intervalMs);
    if (keepAlive) this.timer.ref();
    else this.timer.unref();
  }

  /** Measures now, or joins the round already under way. */
  now(): Promise<void> {
    this.round ??= this.measure()
      .catch(() => undefined)
      .finally(() => (this.round = undefined));
    return this.round;
  }
}
