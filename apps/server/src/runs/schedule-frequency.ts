/**
 * The shortest interval between two runs a schedule may ask for. Each fire clones nothing but
 * queues a whole run, and a pipeline takes minutes: like GitLab's (whose scheduler wakes about
 * once a minute), a schedule fires at most once a minute.
 */
export const MIN_SCHEDULE_INTERVAL_SECONDS = 60;

const SINGLE_SECOND = /^[0-5]?\d$/;

/**
 * Why `cron` would fire more often than {@link MIN_SCHEDULE_INTERVAL_SECONDS}, or undefined.
 * Five fields fire at most once a minute; a sixth (seconds, first) must name one second of it.
 */
export function scheduleFrequencyProblem(cron: string): string | undefined {
  const fields = cron.trim().split(/\s+/);
  if (fields.length < 6) return undefined;
  const seconds = fields[0] ?? '';
  if (SINGLE_SECOND.test(seconds)) return undefined;
  return (
    `cron ${JSON.stringify(cron)} fires more often than once a minute, the most a schedule may: ` +
    `give the seconds field one value (e.g. "0 ${fields.slice(1).join(' ')}") or use five fields`
  );
}
