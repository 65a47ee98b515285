/** Whether to colour what goes to a stream: only a terminal, and only when NO_COLOR is unset. */
export function colorEnabled(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  return stream.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === '');
}

const CODES = { red: 31, green: 32, yellow: 33, blue: 34, dim: 2, bold: 1 } as const;
export type Color = keyof typeof CODES;

export class Painter {
  constructor(readonly enabled: boolean) {}

  paint(text: string, color: Color | undefined): string {
    if (!this.enabled || color === undefined || text === '') return text;
    return `\u001b[${CODES[color]}m${text}\u001b[0m`;
  }

  /** A run's or job's state in the colour people expect of it. */
  state(state: string): string {
    return this.paint(state, stateColor(state));
  }
}

export function stateColor(state: string): Color | undefined {
  switch (state) {
    case 'success':
    case 'deployed':
      return 'green';
    case 'failure':
    case 'error':
    case 'failed':
    case 'rejected':
      return 'red';
    case 'running':
    case 'deploying':
      return 'yellow';
    case 'queued':
    case 'pending':
    case 'awaiting-approval':
      return 'blue';
    case 'canceled':
    case 'skipped':
    case 'blocked':
    case 'expired':
      return 'dim';
    default:
      return undefined;
  }
}

/**
 * Plain aligned columns under upper-case headers, two spaces apart, no trailing blanks. Widths
 * are measured on the plain text, so colouring a cell (`paint`) never breaks the alignment.
 */
export function table(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  paint: (column: number, value: string) => string = (_c, v) => v,
): string {
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: readonly string[], painted: boolean): string =>
    cells
      .map((cell, i) => {
        const last = i === cells.length - 1;
        const text = painted ? paint(i, cell) : cell;
        return last ? text : text + ' '.repeat((widths[i] ?? 0) - cell.length);
      })
      .join('  ')
      .trimEnd();
  return [line(headers, false), ...rows.map((row) => line(row, true))].join('\n') + '\n';
}

/** `850ms`, `12s`, `3m05s`, `1h02m`. */
export function formatDuration(ms: number): string {
  if (ms < 0) ms = 0;
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  const seconds = Math.floor(ms / 1_000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
  const hours = Math.floor(minutes / 60);
  return `${hours}h${String(minutes % 60).padStart(2, '0')}m`;
}

/** `just now`, `5s ago`, `3m ago`, `2h ago`, `4d ago`; past a week the date. */
export function formatAge(iso: string | undefined, now: Date): string {
  if (iso === undefined) return '-';
  const then = new Date(iso);
  const seconds = Math.floor((now.getTime() - then.getTime()) / 1_000);
  if (seconds < 1) return 'just now';
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3_600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3_600)}h ago`;
  if (seconds < 7 * 86_400) return `${Math.floor(seconds / 86_400)}d ago`;
  return then.toISOString().slice(0, 10);
}

/** How long something ran: until it finished, or until now while it runs; `-` before it starts. */
export function elapsed(
  startedAt: string | undefined,
  finishedAt: string | undefined,
  now: Date,
): string {
  if (startedAt === undefined) return '-';
  const end = finishedAt === undefined ? now : new Date(finishedAt);
  return formatDuration(end.getTime() - new Date(startedAt).getTime());
}

/** `512 B`, `1.5 KiB`, `12.0 MiB`, `2.1 GiB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

export function shortSha(sha: string): string {
  return sha.slice(0, 7);
}

/** `HH:MM:SS` of the local clock, for live lines. */
export function clock(date: Date): string {
  return [date.getHours(), date.getMinutes(), date.getSeconds()]
    .map((n) => String(n).padStart(2, '0'))
    .join(':');
}
