/**
 * A place in line (see `Turns`). Whoever takes it must pass it, whatever happens: a turn never
 * passed holds up every later one.
 */
export class Turn {
  /** Resolves once every earlier turn has passed. */
  readonly earlierPassed: Promise<void>;
  /** Resolves once this turn and every earlier one have passed: what the next turn waits for. */
  readonly passed: Promise<void>;
  private passOwn!: () => void;

  constructor(earlier: Promise<void>) {
    this.earlierPassed = earlier;
    const own = new Promise<void>((resolve) => (this.passOwn = resolve));
    this.passed = earlier.then(() => own);
  }

  /** Later turns need not wait for this one any more; passing it again does nothing. */
  pass(): void {
    this.passOwn();
  }
}

/**
 * Turns in the order they are taken: each waits for the earlier ones to pass, so work that takes
 * a turn before its own slow part (reads, writes) still ends in the order it began. Pure, with no
 * I/O.
 */
export class Turns {
  private last: Promise<void> = Promise.resolve();

  take(): Turn {
    const turn = new Turn(this.last);
    this.last = turn.passed;
    return turn;
  }
}
