/**
 * One step of a compiled glob. `star` and `any` take any number of characters (none included),
 * `skip` takes none: it goes on at `to` or at the next step, whichever matches.
 */
type Step =
  | { kind: 'char'; char: string }
  | { kind: 'one' }
  | { kind: 'star' }
  | { kind: 'any' }
  | { kind: 'skip'; to: number };

/** What matching may still cost (see {@link Glob.matches}): taken from as matches go. */
export interface GlobBudget {
  left: number;
}

/** A match ran out of its {@link GlobBudget}. */
export class GlobBudgetSpent extends Error {
  constructor(readonly glob: string) {
    super(`matching ${JSON.stringify(glob)} took more work than it was allowed`);
    this.name = GlobBudgetSpent.name;
  }
}

/**
 * A minimal glob for branch names and file paths: `*` and `?` stay within one `/`-separated
 * segment, `**` crosses segments, and `**\/` also matches no segment at all (`src/**\/*.ts`
 * matches `src/a.ts`). Every other character stands for itself.
 *
 * Globs and the names they are matched against both come from repositories (a pipeline's `when`
 * and `artifacts`, the files of a commit or a workspace): a regular expression such as
 * `[^/]*a[^/]*a…b` backtracks for longer than anyone waits on a name of many `a`s, and the thread
 * that runs it (the server's, an agent's) does nothing else meanwhile. So a glob is matched by
 * following every way it could go at once, one character of the name at a time: at most its
 * length times the name's length, whatever either holds. Node 20 has no `path.matchesGlob`.
 */
export class Glob {
  private readonly steps: Step[] = [];
  /** Per step, the last `round` that reached it: what is reached once per character is not again. */
  private seen = new Uint32Array(0);
  private round = 0;

  constructor(readonly source: string) {
    const chars = [...source];
    for (let i = 0; i < chars.length; i++) {
      const char = chars[i] as string;
      if (char === '*' && chars[i + 1] === '*') {
        if (chars[i + 2] === '/') {
          // No segment, or any characters up to a `/`.
          const at = this.steps.length;
          this.steps.push(
            { kind: 'skip', to: at + 3 },
            { kind: 'any' },
            { kind: 'char', char: '/' },
          );
          i += 2;
        } else {
          this.steps.push({ kind: 'any' });
          i += 1;
        }
      } else if (char === '*') {
        this.steps.push({ kind: 'star' });
      } else if (char === '?') {
        this.steps.push({ kind: 'one' });
      } else {
        this.steps.push({ kind: 'char', char });
      }
    }
  }

  /**
   * Whether the whole of `value` matches. With a `budget`, each step that one way of the glob
   * takes costs one: {@link GlobBudgetSpent} is thrown once there is none left, the budget shared
   * by as many matches as its holder wants to bound together.
   */
  matches(value: string, budget?: GlobBudget): boolean {
    const end = this.steps.length;
    if (this.seen.length !== end + 1) this.seen = new Uint32Array(end + 1);
    let at = this.reach([0]);
    for (const char of value) {
      if (budget !== undefined) {
        budget.left -= at.length;
        if (budget.left < 0) throw new GlobBudgetSpent(this.source);
      }
      const next: number[] = [];
      for (const i of at) {
        const step = this.steps[i];
        if (step === undefined) continue;
        switch (step.kind) {
          case 'char':
            if (char === step.char) next.push(i + 1);
            break;
          case 'one':
            if (char !== '/') next.push(i + 1);
            break;
          case 'star':
            if (char !== '/') next.push(i);
            break;
          case 'any':
            next.push(i);
            break;
          case 'skip':
            break;
        }
      }
      if (next.length === 0) return false;
      at = this.reach(next);
    }
    return at.includes(end);
  }

  /** The steps `from` stand at, and every step they reach taking no character; each once. */
  private reach(from: number[]): number[] {
    // Wrapped round (after 2^32 characters), every step counts as not reached yet.
    this.round = (this.round + 1) >>> 0;
    if (this.round === 0) {
      this.seen.fill(0);
      this.round = 1;
    }
    const reached: number[] = [];
    const pending = [...from];
    for (let i = pending.pop(); i !== undefined; i = pending.pop()) {
      if (this.seen[i] === this.round) continue;
      this.seen[i] = this.round;
      reached.push(i);
      const step = this.steps[i];
      if (step?.kind === 'star' || step?.kind === 'any') pending.push(i + 1);
      if (step?.kind === 'skip') pending.push(i + 1, step.to);
    }
    return reached;
  }
}

export function matchesGlob(value: string, glob: string): boolean {
  return new Glob(glob).matches(value);
}
