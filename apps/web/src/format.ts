/** How times, durations and commits read in the UI. */

export function shortSha(sha: string): string {
  return sha.slice(0, 7);
}

/** Enough of a SHA-256 to tell artifacts apart at a glance; the whole digest goes in a title. */
export function shortDigest(sha256: string): string {
  return sha256.slice(0, 12);
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

/**
 * `in 5 minutes`, `in 24 hours`, or the date once it is more than 24 hours away. Counted in whole
 * hours up to 24 included, so a 24-hour approval window reads `in 24 hours` from the second it
 * opens, not a date at first and hours a second later.
 */
export function until(at: string | undefined, now = Date.now()): string {
  if (at === undefined) return '';
  const seconds = Math.round((Date.parse(at) - now) / 1000);
  if (seconds <= 0) return when(at, now);
  if (seconds < 60) return RELATIVE.format(seconds, 'second');
  if (seconds < 3600) return RELATIVE.format(Math.round(seconds / 60), 'minute');
  const hours = Math.round(seconds / 3600);
  if (hours <= 24) return RELATIVE.format(hours, 'hour');
  return ABSOLUTE.format(new Date(at));
}

export function absolute(at: string | undefined): string {
  return at === undefined ? '' : ABSOLUTE.format(new Date(at));
}

/** `512 MiB`, `1.5 GiB`; empty when unknown. */
export function bytes(count: number | undefined): string {
  if (count === undefined) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = count;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits)} ${units[unit] ?? ''}`;
}

/** CPU time: `0.42s`, `12.5s`, `3m 05s`; empty when unknown. */
export function cpuTime(seconds: number | undefined): string {
  if (seconds === undefined) return '';
  if (seconds < 10) return `${seconds.toFixed(2)}s`;
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  return duration(new Date(0).toISOString(), new Date(seconds * 1000).toISOString());
}
