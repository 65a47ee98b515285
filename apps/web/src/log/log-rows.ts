import type { StepView } from '../api';

/** A run of rows: a step's header (unless the lines come before any step) and its lines. */
export interface Segment {
  step?: StepView;
  /** Line indexes [start, end). */
  start: number;
  end: number;
  collapsed: boolean;
  /** The segment's first row. */
  row: number;
  rows: number;
}

export type Row = { kind: 'step'; segment: Segment } | { kind: 'line'; index: number };

/**
 * The log view's rows, all the same height: step headers and the lines of expanded steps. A
 * collapsed step is its header alone. Rows are computed from a handful of segments, never
 * materialised per line.
 */
export class LogRows {
  readonly segments: Segment[] = [];
  readonly total: number;

  constructor(
    lineCount: number,
    firstLine: number,
    steps: StepView[],
    collapsed: ReadonlySet<number>,
  ) {
    const indexOf = (n: number): number => Math.min(lineCount, Math.max(0, n - firstLine));
    let row = 0;
    const add = (segment: Omit<Segment, 'row' | 'rows'>): void => {
      const lines = segment.collapsed ? 0 : segment.end - segment.start;
      const rows = (segment.step === undefined ? 0 : 1) + lines;
      this.segments.push({ ...segment, row, rows });
      row += rows;
    };
    const before = steps[0] === undefined ? lineCount : indexOf(steps[0].firstLine);
    if (before > 0) add({ start: 0, end: before, collapsed: false });
    steps.forEach((step, i) => {
      const next = steps[i + 1];
      add({
        step,
        start: indexOf(step.firstLine),
        end: next === undefined ? lineCount : indexOf(next.firstLine),
        collapsed: collapsed.has(step.idx),
      });
    });
    this.total = row;
  }

  row(r: number): Row | undefined {
    const segment = this.segmentOfRow(r);
    if (segment === undefined) return undefined;
    const offset = r - segment.row;
    if (segment.step !== undefined && offset === 0) return { kind: 'step', segment };
    return { kind: 'line', index: segment.start + offset - (segment.step === undefined ? 0 : 1) };
  }

  /** The row of line `index`; undefined while its step is collapsed. */
  rowOfLine(index: number): number | undefined {
    const segment = this.segmentOfLine(index);
    if (segment === undefined || segment.collapsed) return undefined;
    return segment.row + (segment.step === undefined ? 0 : 1) + index - segment.start;
  }

  segmentOfLine(index: number): Segment | undefined {
    return this.segments.find((s) => index >= s.start && index < s.end);
  }

  private segmentOfRow(r: number): Segment | undefined {
    // Steps are few: a linear scan is cheaper than keeping an index.
    return this.segments.find((s) => r >= s.row && r < s.row + s.rows);
  }
}
