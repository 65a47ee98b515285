import { applySgr, parseAnsiLine, type AnsiStyle, type Span } from './ansi';

/** A `log` event of the job log stream. */
export interface LogChunk {
  taskId: string;
  offset: number;
  firstLine: number;
  text: string;
}

// Only SGR changes the style a line starts in; any escape at all means a line needs parsing.
// eslint-disable-next-line no-control-regex -- ANSI escapes are control characters by definition.
const SGR = /\u001b\[([0-9;:]*)m/g;

/**
 * A job's log as numbered raw lines, fed chunk by chunk in offset order. A chunk that ends
 * mid-line leaves that line open; the next chunk continues it. A chunk already seen (a replay
 * after a reconnect) is ignored; another task (a new attempt) starts over.
 *
 * Compact for a 100 MB log: one array of raw strings, no per-line objects. ANSI escapes are
 * parsed when a line is shown ({@link spans}); what is kept per line is only where the style a
 * line starts in changes (usually nowhere), so a line parses alone.
 */
export class LogLines {
  /** Raw lines (escapes included, no newline); `raw[i]` is line `first + i`. */
  raw: string[] = [];
  /** The number of line `raw[0]`: 1 when the log was read from its start. */
  first = 1;
  taskId: string | undefined;
  private nextOffset = 0;
  /** True when the last line has no newline yet. */
  private openLast = false;
  // Line indexes where the starting style changes (ascending), and the style from there on.
  private styleFrom: number[] = [];
  private styles: AnsiStyle[] = [];
  /** The style after the last complete line. */
  private style: AnsiStyle = {};

  get length(): number {
    return this.raw.length;
  }

  /** Lines that can no longer change: all but an open last line. */
  get complete(): number {
    return this.raw.length - (this.openLast ? 1 : 0);
  }

  /** True when the lines changed. */
  append(chunk: LogChunk): boolean {
    if (chunk.taskId !== this.taskId) this.reset(chunk.taskId);
    if (chunk.offset < this.nextOffset || chunk.text === '') return false;
    if (this.raw.length === 0) this.first = chunk.firstLine;
    this.nextOffset = chunk.offset + utf8Length(chunk.text);
    const parts = chunk.text.split('\n');
    if (this.openLast) {
      // The previous chunk's last line had no newline yet: what follows continues it.
      parts[0] = (this.raw.pop() ?? '') + (parts[0] ?? '');
    }
    const tail = parts.pop() ?? '';
    for (const line of parts) this.push(line);
    this.openLast = tail !== '';
    if (this.openLast) {
      this.startsIn(this.raw.length, this.style);
      this.raw.push(tail);
    }
    return true;
  }

  /** The job ended: an open last line is as complete as it will get. */
  close(): void {
    this.openLast = false;
  }

  /** Line `index` (0-based) as styled spans. */
  spans(index: number): Span[] {
    return parseAnsiLine(this.raw[index] ?? '', this.styleAt(index)).spans;
  }

  /** Line `index` as it reads on screen: escapes dropped, a carriage return starting it over. */
  text(index: number): string {
    return plainText(this.raw[index] ?? '');
  }

  /** Forgets every line: the next chunk starts the log (of `taskId`, when given). */
  reset(taskId?: string): void {
    this.raw = [];
    this.first = 1;
    this.taskId = taskId;
    this.nextOffset = 0;
    this.openLast = false;
    this.styleFrom = [];
    this.styles = [];
    this.style = {};
  }

  private push(line: string): void {
    const index = this.raw.length;
    this.startsIn(index, this.style);
    this.raw.push(line);
    if (line.includes('\u001b')) {
      let style = this.style;
      for (const match of line.matchAll(SGR)) style = applySgr(style, match[1] ?? '');
      this.style = style;
    }
  }

  /** Records that line `index` starts in `style`, when that differs from the line before. */
  private startsIn(index: number, style: AnsiStyle): void {
    // A reopened line's mark (if any) is dropped first: it is recorded again.
    if (this.styleFrom.at(-1) === index) {
      this.styleFrom.pop();
      this.styles.pop();
    }
    if ((this.styles.at(-1) ?? EMPTY) !== style) {
      this.styleFrom.push(index);
      this.styles.push(style);
    }
  }

  /** The style line `index` starts in (one object per run of lines: memoisable). */
  styleAt(index: number): AnsiStyle {
    let lo = 0;
    let hi = this.styleFrom.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if ((this.styleFrom[mid] ?? 0) <= index) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found < 0 ? EMPTY : (this.styles[found] ?? EMPTY);
  }
}

const EMPTY: AnsiStyle = {};

/** A raw line's text as shown: the spans' text, without parsing lines that have no escapes. */
export function plainText(raw: string): string {
  if (!raw.includes('\u001b') && !raw.includes('\r')) return raw;
  return parseAnsiLine(raw, EMPTY)
    .spans.map((span) => span.text)
    .join('');
}

/** Offsets are bytes of UTF-8; the text is a JS string. */
function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) bytes += 1;
    else if (code >= 0xd800 && code <= 0xdbff) {
      // A surrogate pair: 4 bytes for 2 UTF-16 units.
      bytes += 2;
      i++;
    } else bytes += 2;
  }
  return bytes;
}
