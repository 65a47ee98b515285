import { parseAnsiLine, type AnsiStyle, type Span } from './ansi';

/** A `log` event of the job log stream. */
export interface LogChunk {
  taskId: string;
  offset: number;
  firstLine: number;
  text: string;
}

export interface LogLine {
  /** 1-based, as the server numbers lines (steps' `firstLine`). */
  n: number;
  spans: Span[];
}

interface OpenLine {
  n: number;
  raw: string;
  style: AnsiStyle;
}

/**
 * A job's log as numbered, styled lines, fed chunk by chunk in offset order. A chunk that ends
 * mid-line leaves that line open; the next chunk continues it. A chunk already seen (a replay
 * after a reconnect) is ignored; another task (a new attempt) starts over.
 */
export class LogLines {
  lines: LogLine[] = [];
  taskId: string | undefined;
  private nextOffset = 0;
  private open: OpenLine | undefined;
  private style: AnsiStyle = {};

  /** True when the lines changed. */
  append(chunk: LogChunk): boolean {
    if (chunk.taskId !== this.taskId) this.reset(chunk.taskId);
    if (chunk.offset < this.nextOffset || chunk.text === '') return false;
    this.nextOffset = chunk.offset + utf8Length(chunk.text);
    let text = chunk.text;
    let n = chunk.firstLine;
    let style = this.style;
    if (this.open !== undefined) {
      // The previous chunk's last line had no newline yet: parse it again with what follows.
      this.lines.pop();
      text = this.open.raw + text;
      n = this.open.n;
      style = this.open.style;
      this.open = undefined;
    }
    const parts = text.split('\n');
    const tail = parts.pop() ?? '';
    for (const raw of parts) {
      const parsed = parseAnsiLine(raw, style);
      this.lines.push({ n, spans: parsed.spans });
      style = parsed.style;
      n += 1;
    }
    if (tail !== '') {
      this.open = { n, raw: tail, style };
      this.lines.push({ n, spans: parseAnsiLine(tail, style).spans });
    }
    this.style = style;
    return true;
  }

  /** Forgets every line: the next chunk starts the log (of `taskId`, when given). */
  reset(taskId?: string): void {
    this.lines = [];
    this.taskId = taskId;
    this.nextOffset = 0;
    this.open = undefined;
    this.style = {};
  }
}

/** Offsets are bytes of UTF-8; the text is a JS string. */
function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}
