import type { JobState, RunDetails, RunState } from './api-types';
import { ApiError } from './errors';

/** One thing that changed between two looks at a run, as `run watch --json` prints it. */
export type WatchChange =
  | {
      kind: 'run';
      runId: string;
      number: number;
      /** null: the first look. */
      from: RunState | null;
      to: RunState;
      errors?: string[];
      at: string;
    }
  | {
      kind: 'job';
      runId: string;
      jobId: string;
      key: string;
      from: JobState | null;
      to: JobState;
      attempt: number;
      statusMessage?: string;
      exitCode?: number;
      at: string;
    };

/**
 * What changed from `previous` (undefined: nothing seen yet) to `next`: the run's state, and
 * each job's state, attempt or reason. An ending run comes after its jobs, a starting one before.
 */
export function diffRun(
  previous: RunDetails | undefined,
  next: RunDetails,
  at: Date,
): WatchChange[] {
  const when = at.toISOString();
  const jobs: WatchChange[] = [];
  for (const job of next.jobs) {
    const before = previous?.jobs.find((j) => j.id === job.id);
    if (
      before !== undefined &&
      before.state === job.state &&
      before.attempt === job.attempt &&
      before.statusMessage === job.statusMessage
    ) {
      continue;
    }
    jobs.push({
      kind: 'job',
      runId: next.id,
      jobId: job.id,
      key: job.key,
      from: before?.state ?? null,
      to: job.state,
      attempt: job.attempt,
      ...(job.statusMessage === undefined ? {} : { statusMessage: job.statusMessage }),
      ...(job.exitCode === undefined ? {} : { exitCode: job.exitCode }),
      at: when,
    });
  }
  if (previous !== undefined && previous.state === next.state) return jobs;
  const run: WatchChange = {
    kind: 'run',
    runId: next.id,
    number: next.number,
    from: previous?.state ?? null,
    to: next.state,
    ...(next.errors === undefined ? {} : { errors: next.errors }),
    at: when,
  };
  return isTerminal(next.state) ? [...jobs, run] : [run, ...jobs];
}

export function isTerminal(state: string): boolean {
  return state === 'success' || state === 'failure' || state === 'error' || state === 'canceled';
}

export interface PollOptions {
  intervalMs: number;
  /** How long the server may stay unreachable (or 502/503) before the poll gives up. */
  patienceMs?: number;
  now(): Date;
  sleep(ms: number): Promise<void>;
  /** Told once when the server stops answering, and once when it answers again. */
  onConnection?(lost: boolean, error?: unknown): void;
}

/**
 * Looks every `intervalMs` until `ended` says so; resolves with that last look. A server that
 * stops answering for a while (a restart) is waited for; a 404 or 401 fails at once.
 */
export async function pollUntil<T>(
  look: () => Promise<T>,
  ended: (value: T) => boolean,
  onLook: (value: T) => void,
  options: PollOptions,
): Promise<T> {
  const patienceMs = options.patienceMs ?? 30_000;
  let lostSince: number | undefined;
  for (;;) {
    let value: T;
    try {
      value = await look();
    } catch (error) {
      const now = options.now().getTime();
      if (!(error instanceof ApiError) || !error.transient) throw error;
      if (lostSince === undefined) {
        lostSince = now;
        options.onConnection?.(true, error);
      }
      if (now - lostSince >= patienceMs) throw error;
      await options.sleep(options.intervalMs);
      continue;
    }
    if (lostSince !== undefined) {
      lostSince = undefined;
      options.onConnection?.(false);
    }
    onLook(value);
    if (ended(value)) return value;
    await options.sleep(options.intervalMs);
  }
}

export interface WatchOptions extends PollOptions {
  onChange(change: WatchChange): void;
}

/** Polls a run until it ends, reporting every change; resolves with the ended run. */
export async function watchRun(
  getRun: () => Promise<RunDetails>,
  options: WatchOptions,
): Promise<RunDetails> {
  let previous: RunDetails | undefined;
  return pollUntil(
    getRun,
    (run) => isTerminal(run.state),
    (run) => {
      for (const change of diffRun(previous, run, options.now())) options.onChange(change);
      previous = run;
    },
    options,
  );
}
