/**
 * Step markers: lines the build script prints around each step so the server can tell the steps
 * apart in a task's output. They carry the task's step nonce (see `TaskTokens.stepNonce`), which
 * is only in the text of the script around the steps: where the containerizer keeps that text from
 * the steps (the native one does), a build cannot forge or fake the end of a step.
 */

export type StepMarker =
  { kind: 'start'; idx: number } | { kind: 'end'; idx: number; exitCode: number };

/** What every marker starts with. */
const PREFIX = '::kiln-step-';
const START = `${PREFIX}start`;
const END = `${PREFIX}end`;
const NONCE = /^[A-Za-z0-9_-]+$/;
// At most 9 digits: indexes and exit codes fit a 32-bit integer column.
const MARKER = /^(::kiln-step-start|::kiln-step-end) (\S+) (\d{1,9})(?: (-?\d{1,9}))?\r?\n?$/;

/** The line printed before step `idx` (without its newline). */
export function stepStartMarker(nonce: string, idx: number): string {
  return `${START} ${checkNonce(nonce)} ${checkIdx(idx)}`;
}

/**
 * The line printed after step `idx` (without its newline). `exitCodeShellExpr` goes in as is, for
 * the shell to expand when it prints the line (e.g. `$?` or `$status`).
 */
export function stepEndMarker(nonce: string, idx: number, exitCodeShellExpr: string): string {
  return `${END} ${checkNonce(nonce)} ${checkIdx(idx)} ${exitCodeShellExpr}`;
}

/** The marker a whole line (its newline optional) is, or undefined when it is ordinary text. */
export function parseStepMarker(line: string, nonce: string): StepMarker | undefined {
  if (!line.startsWith(PREFIX)) return undefined;
  const match = MARKER.exec(line);
  if (match === null || match[2] !== nonce) return undefined;
  const idx = Number(match[3]);
  const exitCode = match[4];
  if (match[1] === START) return exitCode === undefined ? { kind: 'start', idx } : undefined;
  return exitCode === undefined ? undefined : { kind: 'end', idx, exitCode: Number(exitCode) };
}

export type StepBoundary =
  | { kind: 'start'; idx: number; firstLine: number }
  | { kind: 'end'; idx: number; exitCode: number };

/**
 * Takes the marker lines out of a piece of output whose first line is number `firstLine`. A
 * step's first line is the number the next line kept gets: line numbers count kept lines only.
 * The piece is taken to start at a line start (chunks end on newlines but for lines longer than
 * a chunk, which are no markers); a marker must end its line, newline included. `inLine`: the
 * stored text before the piece ends inside a line, a line longer than a chunk that the agent cut
 * (see {@link markerSafeEnd}). A marker that starts the piece then ends that line, as one at the
 * end of a step's unended last line does.
 */
export function extractStepMarkers(
  data: string,
  nonce: string,
  firstLine: number,
  inLine = false,
): { text: string; steps: StepBoundary[] } {
  if (!data.includes(PREFIX)) return { text: data, steps: [] };
  const steps: StepBoundary[] = [];
  let text = '';
  let line = firstLine;
  let start = 0;
  while (start < data.length) {
    const newline = data.indexOf('\n', start);
    const end = newline < 0 ? data.length : newline + 1;
    let piece = data.slice(start, end);
    let marker = newline < 0 ? undefined : parseStepMarker(piece, nonce);
    // A step whose output did not end with a newline leaves the end marker at the end of its
    // last line: keep that line (ended) and take the marker.
    const at = piece.lastIndexOf(PREFIX);
    if (marker === undefined && newline >= 0 && at > 0) {
      marker = parseStepMarker(piece.slice(at), nonce);
      if (marker !== undefined) {
        text += `${piece.slice(0, at)}\n`;
        line++;
        piece = '';
      }
    } else if (marker !== undefined && start === 0 && inLine) {
      text += '\n';
      line++;
    }
    if (marker === undefined) {
      text += piece;
      if (newline >= 0) line++;
    } else if (marker.kind === 'start') {
      steps.push({ kind: 'start', idx: marker.idx, firstLine: line });
    } else {
      steps.push(marker);
    }
    start = end;
  }
  return { text, steps };
}

/** The longest a marker line may be that {@link markerSafeEnd} holds back, with room to spare. */
const MARKER_MAX_LENGTH = 128;

/**
 * Where a piece of output that ends inside a line (an agent cuts a line longer than a chunk) may
 * be cut so that no marker is cut in two, which would lose it: before a marker that starts in
 * that unended line near its end, or before an end that could be the start of one. The length of
 * `data` when nothing at its end could be part of a marker. A build that ends a step with a line
 * just longer than a chunk would otherwise hide that step's end.
 */
export function markerSafeEnd(data: string): number {
  const lineStart = data.lastIndexOf('\n') + 1;
  const at = data.indexOf(PREFIX, Math.max(lineStart, data.length - MARKER_MAX_LENGTH));
  if (at >= 0) return at;
  for (let k = Math.min(PREFIX.length - 1, data.length - lineStart); k > 0; k--) {
    if (data.endsWith(PREFIX.slice(0, k))) return data.length - k;
  }
  return data.length;
}

function checkNonce(nonce: string): string {
  if (!NONCE.test(nonce)) throw new Error(`a step nonce is base64url text, not "${nonce}"`);
  return nonce;
}

function checkIdx(idx: number): number {
  if (!Number.isInteger(idx) || idx < 0 || idx > 999_999_999) {
    throw new Error(`a step index is an integer from 0, not ${idx}`);
  }
  return idx;
}
