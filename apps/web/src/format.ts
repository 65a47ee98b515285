/** How times, durations and commits read in the UI. */

export function shortSha(sha: string): string {
  return sha.slice(0, 7);
}

export function firstLine(text: string | undefined): string {
  return (text ?? '').split('\n', 1)[0] ?? '';
}

/** `42s`, `3m 05s`, `1h 02m`; empty when it has not started. */
export function duration(startedAt?: string, finishedAt?: string, now = Date.now()): string {
  if (startedAt === undefined) return '';
  const end = finishedAt === undefined ? now : Date.parse(finishedAt);
  const seconds = Math.max(0, Math.round((end - Date.parse(startedAt)) / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, '0')}m`;
}

const RELATIVE = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
const ABSOLUTE = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** `5 minutes ago`, or the date once it is more than a day old. */
export function when(at: string | undefined, now = Date.now()): string {
  if (at === undefined) return '';
  const seconds = Math.round((Date.parse(at) - now) / 1000);
  if (seconds > -60) return RELATIVE.format(Math.min(seconds, 0), 'second');
  if (seconds > -3600) return RELATIVE.format(Math.round(seconds / 60), 'minute');
  if (seconds > -86_400) return RELATIVE.format(Math.round(seconds / 3600), 'hour');
  return ABSOLUTE.format(new Date(at));
}

export function absolute(at: string | undefined): string {
  return at === undefined ? '' : ABSOLUTE.format(new Date(at));
}
