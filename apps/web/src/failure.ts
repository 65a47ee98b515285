/** Where a job failed: its failing step and the last lines before the failure. */
import type { StepView } from './api';

/** The step whose command failed: the first that ended with a non-zero exit code. */
export function failingStep(steps: readonly StepView[]): StepView | undefined {
  return [...steps]
    .sort((a, b) => a.idx - b.idx)
    .find((step) => step.exitCode !== null && step.exitCode !== 0);
}

/** The number of a step's last line: the line before the next step's first, else the log's last. */
export function lastLineOf(
  steps: readonly StepView[],
  step: StepView,
  logLastLine: number,
): number {
  const next = [...steps]
    .sort((a, b) => a.idx - b.idx)
    .find((other) => other.idx > step.idx && other.firstLine > step.firstLine);
  return Math.max(step.firstLine, next === undefined ? logLastLine : next.firstLine - 1);
}

export interface ExcerptLine {
  /** The line's number in the log (from 1), as `#L<n>` links name it. */
  n: number;
  text: string;
}

// eslint-disable-next-line no-control-regex -- ANSI escapes are control characters by definition.
const ESCAPES = /\u001b\[[0-9;:?]*[A-Za-z]/g;

/** The last `count` lines of the failing step in the log `text`, as plain text. */
export function failureExcerpt(
  text: string,
  steps: readonly StepView[],
  step: StepView,
  count = 10,
): ExcerptLine[] {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const last = Math.min(lastLineOf(steps, step, lines.length), lines.length);
  const first = Math.max(step.firstLine, last - count + 1, 1);
  const excerpt: ExcerptLine[] = [];
  for (let n = first; n <= last; n++) {
    excerpt.push({ n, text: (lines[n - 1] ?? '').replace(ESCAPES, '') });
  }
  return excerpt;
}
