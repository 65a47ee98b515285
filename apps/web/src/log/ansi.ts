/**
 * A small parser for the ANSI escapes build tools print: SGR (colours, bold, italic, underline)
 * is kept as data, every other escape sequence is dropped. It yields plain strings with styles;
 * the log view renders them as React text nodes, so nothing in a log is ever parsed as HTML.
 */

/** 0-15: the theme's palette (CSS classes); 16-255: xterm's 256 colours; a string: `#rrggbb`. */
export type AnsiColor = number | string;

export interface AnsiStyle {
  fg?: AnsiColor;
  bg?: AnsiColor;
  bold?: boolean;
  dim?: boolean;
  italic?: boolean;
  underline?: boolean;
  inverse?: boolean;
}

export interface Span {
  text: string;
  style: AnsiStyle;
}

// CSI (ESC [ params final), OSC (ESC ] ... BEL or ESC \), or a two-byte escape.
const ESCAPE =
  // eslint-disable-next-line no-control-regex -- ANSI escapes are control characters by definition.
  /\u001b(?:\[([0-9;:?<=>]*)[ -/]*([@-~])|\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|[@-Z\\-_])/g;

/**
 * Parses one line (without its newline) starting in `style`; returns its spans and the style the
 * next line starts in. A carriage return starts the line over, as a terminal would show it.
 */
export function parseAnsiLine(line: string, style: AnsiStyle): { spans: Span[]; style: AnsiStyle } {
  let spans: Span[] = [];
  let current = style;
  let last = 0;
  const push = (text: string): void => {
    const cr = text.lastIndexOf('\r');
    if (cr >= 0) {
      spans = [];
      text = text.slice(cr + 1);
    }
    if (text === '') return;
    const previous = spans.at(-1);
    if (previous !== undefined && previous.style === current) previous.text += text;
    else spans.push({ text, style: current });
  };
  const body = line.endsWith('\r') ? line.slice(0, -1) : line;
  for (const match of body.matchAll(ESCAPE)) {
    push(body.slice(last, match.index));
    last = match.index + match[0].length;
    if (match[2] === 'm') current = applySgr(current, match[1] ?? '');
  }
  push(body.slice(last));
  return { spans, style: current };
}

/** The style after an SGR sequence's parameters (`1;31`, `38;5;208`, `38;2;255;0;0`). */
export function applySgr(style: AnsiStyle, params: string): AnsiStyle {
  const codes = params === '' ? [0] : params.split(/[;:]/).map((p) => (p === '' ? 0 : Number(p)));
  let next: AnsiStyle = { ...style };
  for (let i = 0; i < codes.length; i++) {
    const code = codes[i] ?? 0;
    if (code === 0) next = {};
    else if (code === 1) next.bold = true;
    else if (code === 2) next.dim = true;
    else if (code === 3) next.italic = true;
    else if (code === 4) next.underline = true;
    else if (code === 7) next.inverse = true;
    else if (code === 22) next = without(next, 'bold', 'dim');
    else if (code === 23) next = without(next, 'italic');
    else if (code === 24) next = without(next, 'underline');
    else if (code === 27) next = without(next, 'inverse');
    else if (code >= 30 && code <= 37) next.fg = code - 30;
    else if (code >= 90 && code <= 97) next.fg = code - 90 + 8;
    else if (code === 39) next = without(next, 'fg');
    else if (code >= 40 && code <= 47) next.bg = code - 40;
    else if (code >= 100 && code <= 107) next.bg = code - 100 + 8;
    else if (code === 49) next = without(next, 'bg');
    else if (code === 38 || code === 48) {
      const { color, used } = extendedColor(codes, i + 1);
      if (color !== undefined) {
        if (code === 38) next.fg = color;
        else next.bg = color;
      }
      i += used;
    }
  }
  return next;
}

function extendedColor(codes: number[], at: number): { color?: AnsiColor; used: number } {
  const mode = codes[at];
  if (mode === 5) {
    const n = codes[at + 1];
    return n !== undefined && n >= 0 && n <= 255 ? { color: n, used: 2 } : { used: 2 };
  }
  if (mode === 2) {
    const rgb = codes.slice(at + 1, at + 4);
    if (rgb.length === 3 && rgb.every((c) => Number.isInteger(c) && c >= 0 && c <= 255)) {
      return { color: `#${rgb.map((c) => c.toString(16).padStart(2, '0')).join('')}`, used: 4 };
    }
    return { used: 4 };
  }
  return { used: 0 };
}

function without(style: AnsiStyle, ...keys: (keyof AnsiStyle)[]): AnsiStyle {
  const next = { ...style };
  for (const key of keys) delete next[key];
  return next;
}

/** A 256-colour index (16-255) as CSS `rgb()`; 0-15 are left to the stylesheet. */
export function xterm256(n: number): string {
  if (n >= 232) {
    const level = 8 + (n - 232) * 10;
    return `rgb(${level},${level},${level})`;
  }
  const i = n - 16;
  const level = (v: number): number => (v === 0 ? 0 : 55 + v * 40);
  return `rgb(${level(Math.floor(i / 36))},${level(Math.floor(i / 6) % 6)},${level(i % 6)})`;
}
