import { useEffect, useLayoutEffect, useReducer, useRef, useState, type ReactNode } from 'react';
import { api, logUrl, type StepView } from '../api';
import { duration } from '../format';
import { LogView } from '../log/log-view';
import { LogLines, type LogChunk } from '../log/log-lines';
import { Link } from '../router';
import { RepositoryLink } from '../repository-link';
import { ErrorNote, StateBadge } from '../state-badge';
import { usePoll } from '../use-poll';

type StreamState = 'connecting' | 'live' | 'reconnecting' | 'ended' | 'failed';

/** A job's log, live over Server-Sent Events while it runs. */
export function JobLogPage(props: { runId: string; jobId: string }): ReactNode {
  const run = usePoll(`run:${props.runId}`, () => api.run(props.runId), 2_000);
  const job = run.data?.jobs.find((j) => j.id === props.jobId);
  const stream = useLogStream(props.jobId, job === undefined ? undefined : job.attempt);
  const [follow, setFollow] = useState(true);
  const { refresh } = run;
  // The job's own state catches up with its log's end at once, not at the next poll.
  useEffect(() => {
    if (stream.state === 'ended') refresh();
  }, [stream.state, refresh]);
  const scroller = useRef<HTMLDivElement>(null);

  useLayoutEffect(() => {
    const box = scroller.current;
    if (follow && box !== null) box.scrollTop = box.scrollHeight;
  }, [follow, stream.version]);

  const onScroll = (): void => {
    const box = scroller.current;
    // Scrolling up to read stops following; the toggle turns it back on.
    if (box !== null && follow && box.scrollHeight - box.scrollTop - box.clientHeight > 40) {
      setFollow(false);
    }
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
          <label className="toggle">
            <input
              type="checkbox"
              checked={follow}
              onChange={(event) => setFollow(event.target.checked)}
            />
            Follow
          </label>
          <a className="button" href={logUrl(props.jobId)} download={`${job?.key ?? 'job'}.log`}>
            Raw log
          </a>
        </div>
      </div>
      <p className="muted">
        {job === undefined ? null : (
          <>
            attempt {job.attempt}
            {job.startedAt === undefined ? '' : ` · ${duration(job.startedAt, job.finishedAt)}`}
            {job.statusMessage === undefined ? '' : ` · ${job.statusMessage}`}
            {' · '}
          </>
        )}
        <span className={`stream stream-${stream.state}`}>{streamLabel(stream.state)}</span>
      </p>
      <ErrorNote error={run.error} />
      {job?.attempt === 0 ? (
        <p className="empty">This job never ran, so it has no log.</p>
      ) : (
        <div className="log-scroll" ref={scroller} onScroll={onScroll}>
          <LogView lines={stream.lines.lines} steps={stream.steps} version={stream.version} />
        </div>
      )}
    </section>
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
 */
function useLogStream(jobId: string, attempt: number | undefined): LogStream {
  const lines = useRef(new LogLines()).current;
  const steps = useRef(new Map<number, StepView>()).current;
  const [version, bump] = useReducer((n: number) => n + 1, 0);
  const [state, setState] = useState<StreamState>('connecting');

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
      setState('ended');
    });
    source.onerror = () => {
      setState(source.readyState === EventSource.CLOSED ? 'failed' : 'reconnecting');
    };
    return () => source.close();
  }, [jobId, attempt, lines, steps]);

  return {
    lines,
    steps: [...steps.values()].sort((a, b) => a.idx - b.idx),
    state,
    version,
  };
}
