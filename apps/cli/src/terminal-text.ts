/*
 * What the CLI lets through to a terminal of text it did not write itself. Logs, job keys, run
 * errors, commit messages and branch names come from builds and pushes (a fork's pull request
 * among them); a terminal obeys the control sequences in what it is given: OSC 52 writes the
 * clipboard, OSC 0 the window's title, cursor moves and erases rewrite lines already shown (the
 * commit an approval names, say). Only colour (SGR, `ESC [ … m`) goes through, and of the text
 * the CLI composes (names, messages), only the plain colours it paints with itself.
 */

const ESC = 0x1b;
const BEL = 0x07;
/** Longest escape sequence held back for the next chunk of a log: past it, one is dropped. */
const MAX_PENDING = 256;

/**
 * `log`: a build's own output, every colour and `\r` (progress bars) kept. `text`: what the CLI
 * composes of names and messages, with the colours it paints ({@link PAINT_CODES}) only.
 */
export type TerminalTextKind = 'log' | 'text';

/** SGR parameters kept in composed text: plain colours and weights, none that hide text. */
const PAINT_CODES = new Set([0, 1, 2, 22, 39, 31, 32, 33, 34, 35, 36, 37, 91, 92, 93, 94, 95, 96]);

/**
 * Filters text bound for a terminal, chunk by chunk: a sequence cut between two chunks of a log
 * is held back until the rest comes.
 */
export class TerminalFilter {
  private pending = '';

  constructor(private readonly kind: TerminalTextKind) {}

  /** What of `chunk` (after what an earlier one held back) may reach the terminal now. */
  write(chunk: string): string {
    const text = this.pending + chunk;
    this.pending = '';
    let out = '';
    let i = 0;
    while (i < text.length) {
      const code = text.charCodeAt(i);
      if (code === ESC) {
        const end = sequenceEnd(text, i);
        if (end === undefined) {
          // Cut by the chunk's end: the rest comes with the next one, unless it is too long.
          if (text.length - i <= MAX_PENDING) this.pending = text.slice(i);
          break;
        }
        const sequence = text.slice(i, end);
        if (this.keeps(sequence)) out += sequence;
        i = end;
        continue;
      }
      if (this.keepsCharacter(code)) out += text[i];
      i += 1;
    }
    return out;
  }

  /** What was held back at the end: an unfinished sequence, which is dropped. */
  end(): string {
    this.pending = '';
    return '';
  }

  private keepsCharacter(code: number): boolean {
    if (code === 0x09 || code === 0x0a) return true;
    if (code === 0x0d) return this.kind === 'log';
    // C0 controls, DEL, and C1 controls (U+0080–U+009F, 8-bit CSI and OSC among them).
    return !(code < 0x20 || code === 0x7f || (code >= 0x80 && code <= 0x9f));
  }

  private keeps(sequence: string): boolean {
    // ESC, `[`, parameters, `m`.
    if (sequence[1] !== '[' || !sequence.endsWith('m')) return false;
    const parameters = sequence.slice(2, -1);
    if (!/^[0-9;:]*$/.test(parameters)) return false;
    if (this.kind === 'log') return true;
    return parameters
      .split(';')
      .every((parameter) => parameter === '' || PAINT_CODES.has(Number(parameter)));
  }
}

/** Filters one whole text (not a stream) of `kind`. */
export function terminalText(text: string, kind: TerminalTextKind): string {
  const filter = new TerminalFilter(kind);
  return filter.write(text) + filter.end();
}

/**
 * The index just past the escape sequence starting at `start` (an ESC), or undefined when the
 * text ends first. CSI: parameters, intermediates, a final byte; OSC, DCS, SOS, PM and APC: up to
 * BEL or ST (`ESC \`); any other: ESC and one character.
 */
function sequenceEnd(text: string, start: number): number | undefined {
  const kind = text[start + 1];
  if (kind === undefined) return undefined;
  if (kind === '[') {
    for (let i = start + 2; i < text.length; i += 1) {
      const code = text.charCodeAt(i);
      if (code >= 0x40 && code <= 0x7e) return i + 1;
      // Not a parameter or an intermediate byte: the sequence ends, malformed, before it.
      if (code < 0x20 || code > 0x3f) return i;
    }
    return undefined;
  }
  if (kind === ']' || kind === 'P' || kind === 'X' || kind === '^' || kind === '_') {
    for (let i = start + 2; i < text.length; i += 1) {
      const code = text.charCodeAt(i);
      if (code === BEL) return i + 1;
      if (code === ESC) return text[i + 1] === undefined ? undefined : i + 2;
    }
    return undefined;
  }
  return start + 2;
}
