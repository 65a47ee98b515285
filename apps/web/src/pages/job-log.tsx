import { useEffect, useId, useMemo, useReducer, useRef, useState, type ReactNode } from 'react';
import { api, logUrl, type Job, type RunDetails, type StepView } from '../api';
import { jobLogUrl } from '../failed-jobs';
import { failingStep, lastLineOf } from '../failure';
import { duration } from '../format';
import { LogView } from '../log/log-view';
import { LogLines, type LogChunk } from '../log/log-lines';
import { Link } from '../router';
import { RepositoryLink } from '../repository-link';
import { ErrorNote, StateBadge } from '../state-badge';
import { useLive } from '../use-live';
import { useTitle } from '../use-title';

type StreamState = 'connecting' | 'live' | 'reconnecting' | 'ended' | 'failed';

/**
 * A job's log, live over Server-Sent Events while it runs; beside it the run's other jobs. A
 * failed attempt opens at the end of its failing step; `?attempt=N` shows an earlier attempt.
 */
export function JobLogPage(props: { runId: string; jobId: string }): ReactNode {
  const run = useLive(`run:${props.runId}`, () => api.run(props.runId), [`run:${props.runId}`]);
  const job = run.data?.jobs.find((j) => j.id === props.jobId);
  const [chosenAttempt, setChosenAttempt] = useState(() => attemptOfSearch());
  const attempt =
    job === undefined ? undefined : Math.min(chosenAttempt ?? job.attempt, job.attempt);
  const stream = useLogStream(props.jobId, attempt);
  // A link to a line (`#L123`) shows that line, not the end.
  const [follow, setFollow] = useState(() => !/^#L\d+$/.test(window.location.hash));
  const { refresh } = run;
  // The job's own state catches up with its log's end at once, not at the next poll.
  useEffect(() => {
    if (stream.state === 'ended') refresh();
  }, [stream.state, refresh]);
  useTitle(job === undefined ? 'Job' : `${job.key} ${job.state} · run #${run.data?.number ?? ''}`);

  const failed = stream.state === 'ended' ? failingStep(stream.steps) : undefined;
  useOpenAtFailure(
    `${props.jobId}@${attempt ?? ''}`,
    failed === undefined
      ? undefined
      : lastLineOf(stream.steps, failed, stream.lines.first + stream.lines.length - 1),
  );

  const chooseAttempt = (next: number): void => {
    const url = new URL(window.location.href);
    url.searchParams.set('attempt', String(next));
    url.hash = '';
    window.history.replaceState(window.history.state, '', url);
    setChosenAttempt(next);
    setFollow(true);
  };

  return (
    <section className="job-log">
      <p className="crumbs">
        <Link to="/">Repositories</Link> /{' '}
        {run.data === undefined ? null : (
          <>
            <RepositoryLink id={run.data.repositoryId} /> /{' '}
            <Link to={`/runs/${props.runId}`}>run #{run.data.number}</Link> /
          </>
        )}
      </p>
      <div className="run-head">
        <h1>
          {job?.key ?? 'Job'} {job === undefined ? null : <StateBadge state={job.state} />}
        </h1>
        <div className="actions">
          {job === undefined || job.attempt < 2 || attempt === undefined ? null : (
            <AttemptPicker
              latest={job.attempt}
              attempt={attempt}
              states={attemptStates(job)}
              onChange={chooseAttempt}
            />
          )}
          <label className="toggle">
            <input
              type="checkbox"
              checked={follow}
              onChange={(event) => setFollow(event.target.checked)}
            />
            Follow
          </label>
          <a
            className="button"
            href={logUrl(props.jobId, attempt)}
            download={`${job?.key ?? 'job'}.log`}
          >
            Raw log
          </a>
        </div>
      </div>
      <p className="muted">
        {job === undefined || attempt === undefined ? null : (
          <>
            attempt {attempt}
            {attempt !== job.attempt
              ? ` of ${job.attempt}`
              : `${job.startedAt === undefined ? '' : ` · ${duration(job.startedAt, job.finishedAt)}`}${
                  job.statusMessage === undefined ? '' : ` · ${job.statusMessage}`
                }`}
            {' · '}
          </>
        )}
        <span className={`stream stream-${stream.state}`}>{streamLabel(stream.state)}</span>
      </p>
      {failed === undefined ? null : (
        <p className="failure-note" role="status" data-failing-step={failed.name}>
          Failed at step <strong>{failed.name}</strong> (exit code {failed.exitCode})
        </p>
      )}
      <ErrorNote error={run.error} />
      <div className="job-log-layout">
        {run.data === undefined ? null : <JobSidebar run={run.data} current={props.jobId} />}
        <div className="job-log-main">
          {job?.attempt === 0 ? (
            <p className="empty">This job never ran, so it has no log.</p>
          ) : (
            <LogView
              lines={stream.lines}
              steps={stream.steps}
              version={stream.version}
              ended={stream.state === 'ended'}
              follow={follow}
              onFollowChange={setFollow}
            />
          )}
        </div>
      </div>
    </section>
  );
}

/** `?attempt=N` of the address, if it names one. */
function attemptOfSearch(): number | undefined {
  const value = Number(new URLSearchParams(window.location.search).get('attempt'));
  return Number.isInteger(value) && value > 0 ? value : undefined;
}

/**
 * Once per attempt, when the log has ended with a failing step and the address names no line:
 * point the address at the step's last line, which the log view scrolls to and marks.
 */
function useOpenAtFailure(key: string, line: number | undefined): void {
  const done = useRef(new Set<string>());
  useEffect(() => {
    if (line === undefined || done.current.has(key)) return;
    done.current.add(key);
    if (/^#L\d+$/.test(window.location.hash)) return;
    window.history.replaceState(window.history.state, '', `#L${line}`);
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  }, [key, line]);
}

/** Each attempt's state by its number; the latest is the job's own state. */
function attemptStates(job: Job): Map<number, string> {
  const states = new Map<number, string>((job.attempts ?? []).map((a) => [a.attempt, a.state]));
  states.set(job.attempt, job.state);
  return states;
}

/** Picks an attempt, each named with how it went: `2 (latest) · success`, `1 · failure`. */
function AttemptPicker(props: {
  latest: number;
  attempt: number;
  states: Map<number, string>;
  onChange: (attempt: number) => void;
}): ReactNode {
  const id = useId();
  const attempts = Array.from({ length: props.latest }, (_, i) => props.latest - i);
  return (
    <span className="attempt-picker">
      <label htmlFor={id}>Attempt</label>
      <select
        id={id}
        value={props.attempt}
        onChange={(e) => props.onChange(Number(e.target.value))}
      >
        {attempts.map((n) => (
          <option key={n} value={n} data-state={props.states.get(n)}>
            {[n === props.latest ? `${n} (latest)` : String(n), props.states.get(n)]
              .filter((part) => part !== undefined)
              .join(' · ')}
          </option>
        ))}
      </select>
    </span>
  );
}

/** The run's jobs, to switch between their logs; the one shown is marked. */
function JobSidebar(props: { run: RunDetails; current: string }): ReactNode {
  return (
    <nav className="job-sidebar" aria-label="Jobs of the run">
      <ul>
        {props.run.jobs.map((job: Job) => (
          <li key={job.id}>
            <Link
              to={jobLogUrl(props.run.id, job)}
              data-sidebar-job={job.key}
              {...(job.id === props.current ? { 'aria-current': 'page' as const } : {})}
            >
              <span className="job-key">{job.key}</span>
              <StateBadge state={job.state} />
            </Link>
          </li>
        ))}
      </ul>
    </nav>
  );
}

function streamLabel(state: StreamState): string {
  switch (state) {
    case 'connecting':
      return 'connecting…';
    case 'live':
      return 'live';
    case 'reconnecting':
      return 'reconnecting…';
    case 'ended':
      return 'complete';
    case 'failed':
      return 'the log stream failed: reload, or open the raw log';
  }
}

interface LogStream {
  lines: LogLines;
  steps: StepView[];
  state: StreamState;
  /** Changes whenever lines or steps do. */
  version: number;
}

/**
 * Follows `/api/v1/jobs/:id/log/stream` for one attempt. EventSource resumes by itself after a
 * dropped connection (`Last-Event-ID` is the byte offset); the `end` event closes it for good.
 * A long log replays as hundreds of chunks in a burst: each is appended at once (cheap), and the
 * page renders at most once an animation frame.
 */
function useLogStream(jobId: string, attempt: number | undefined): LogStream {
  const lines = useRef(new LogLines()).current;
  const steps = useRef(new Map<number, StepView>()).current;
  const [version, bumpNow] = useReducer((n: number) => n + 1, 0);
  const [state, setState] = useState<StreamState>('connecting');
  const frame = useRef<number | undefined>(undefined);
  const bump = useRef((): void => {
    if (frame.current !== undefined) return;
    frame.current = requestAnimationFrame(() => {
      frame.current = undefined;
      bumpNow();
    });
  }).current;

  useEffect(() => {
    if (attempt === undefined || attempt === 0) return;
    // Another attempt is another log: start from an empty page.
    lines.reset();
    steps.clear();
    bump();
    setState('connecting');
    const source = new EventSource(
      `/api/v1/jobs/${encodeURIComponent(jobId)}/log/stream?attempt=${attempt}`,
    );
    source.onopen = () => setState('live');
    source.addEventListener('log', (event) => {
      if (lines.append(JSON.parse((event as MessageEvent<string>).data) as LogChunk)) bump();
    });
    source.addEventListener('step', (event) => {
      const step = JSON.parse((event as MessageEvent<string>).data) as StepView;
      steps.set(step.idx, step);
      bump();
    });
    source.addEventListener('end', () => {
      source.close();
      lines.close();
      bump();
      setState('ended');
    });
    source.onerror = () => {
      setState(source.readyState === EventSource.CLOSED ? 'failed' : 'reconnecting');
    };
    return () => {
      source.close();
      if (frame.current !== undefined) cancelAnimationFrame(frame.current);
      frame.current = undefined;
    };
  }, [jobId, attempt, lines, steps, bump]);

  // A new array only when a step changed: the log view's rows are computed from it.
  const sorted = useMemo(
    () => [...steps.values()].sort((a, b) => a.idx - b.idx),
    // eslint-disable-next-line react-hooks/exhaustive-deps -- `version` changes with the map.
    [steps, version],
  );
  return {
    lines,
    steps: sorted,
    state,
    version,
  };
}
