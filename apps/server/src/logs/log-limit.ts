import type { TaskStepEvent } from '@kiln/persistence';

/** A piece of a task's output turned into what is stored. */
export interface RenderedLog {
  text: string;
  steps: TaskStepEvent[];
}

/**
 * Renders a piece of output whole: its text and its step boundaries. `inLine`: the piece
 * continues a line the stored text left unended.
 */
export type RenderWhole = (data: string, firstLine: number, inLine: boolean) => RenderedLog;

/** The line that ends a log cut at its limit. */
export function limitMarker(limitBytes: number): string {
  return `kiln: the log reached its limit of ${formatBytes(limitBytes)}; the rest was dropped\n`;
}

/**
 * Applies a job's log limit to the piece of output that covers the bytes `range` of the task's
 * output: what lies before `limitBytes` is kept, cut at its last line end; the piece that holds
 * byte `limitBytes` ends with {@link limitMarker}; whatever follows stores no text. Step
 * boundaries are kept throughout (a step that starts in dropped output gets the line after the
 * marker, which holds none of its lines), so a job's steps and exit codes stay whole.
 */
export function renderWithinLimit(
  limitBytes: number,
  renderWhole: RenderWhole,
  data: string,
  firstLine: number,
  range: { offset: number; bytes: number },
  inLine: boolean,
): RenderedLog {
  if (range.offset + range.bytes <= limitBytes) return renderWhole(data, firstLine, inLine);
  if (range.offset > limitBytes) return dropped(renderWhole(data, firstLine, inLine), firstLine);
  const encoded = Buffer.from(data, 'utf8');
  // Invalid bytes decode longer than they are (U+FFFD), so the decoding's first `room` bytes
  // stand for no more than `room` bytes of output: the log never passes its limit.
  const at = limitBytes - range.offset;
  // (A negative start would search from the end.)
  const cut = at <= 0 ? 0 : encoded.lastIndexOf(0x0a, at - 1) + 1;
  const kept = renderWhole(encoded.subarray(0, cut).toString('utf8'), firstLine, inLine);
  const markerLine = firstLine + countNewlines(kept.text);
  const rest = dropped(
    // After the marker's line, at a line start.
    renderWhole(encoded.subarray(cut).toString('utf8'), markerLine + 1, false),
    markerLine + 1,
  );
  return { text: kept.text + limitMarker(limitBytes), steps: [...kept.steps, ...rest.steps] };
}

/** What of dropped output is kept: its step boundaries, starting at `nextLine`. */
function dropped(rendered: RenderedLog, nextLine: number): RenderedLog {
  return {
    text: '',
    steps: rendered.steps.map((step) =>
      step.kind === 'start' ? { ...step, firstLine: nextLine } : step,
    ),
  };
}

function formatBytes(bytes: number): string {
  const MiB = 1024 * 1024;
  if (bytes % MiB === 0) return `${bytes / MiB} MiB`;
  if (bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}

function countNewlines(text: string): number {
  let count = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) count++;
  return count;
}
