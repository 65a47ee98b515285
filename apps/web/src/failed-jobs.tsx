import type { ReactNode } from 'react';
import { api, type Job } from './api';
import { failingStep, failureExcerpt, type ExcerptLine } from './failure';
import { Link } from './router';
import { ErrorNote } from './state-badge';
import { usePoll } from './use-poll';

/** A job's log page, at a line of the attempt when one is given. */
export function jobLogUrl(runId: string, job: Pick<Job, 'id'>, line?: number): string {
  return `/runs/${runId}/jobs/${job.id}${line === undefined ? '' : `#L${line}`}`;
}

/**
 * For each failed job of a run: the step that failed and the last lines before the failure,
 * each linking to its line in the log, as the first thing a developer reads.
 */
export function FailedJobs(props: { runId: string; jobs: readonly Job[] }): ReactNode {
  const failed = props.jobs.filter((job) => job.state === 'failure');
  if (failed.length === 0) return null;
  return (
    <>
      <h2>{failed.length === 1 ? 'Failure' : `Failures (${failed.length})`}</h2>
      <div className="failures">
        {failed.map((job) => (
          <FailedJob key={`${job.id}@${job.attempt}`} runId={props.runId} job={job} />
        ))}
      </div>
    </>
  );
}

function FailedJob({ runId, job }: { runId: string; job: Job }): ReactNode {
  // A failed attempt's log and steps no longer change: loaded once per attempt.
  const { data, error } = usePoll(`failure:${job.id}@${job.attempt}`, async () => {
    if (job.attempt === 0) return undefined;
    const [steps, text] = await Promise.all([
      api.steps(job.id, job.attempt),
      api.logText(job.id, job.attempt),
    ]);
    const step = failingStep(steps);
    return step === undefined ? undefined : { step, excerpt: failureExcerpt(text, steps, step) };
  });
  const last = data?.excerpt.at(-1)?.n;
  return (
    <div className="failure" data-failed-job={job.key}>
      <p className="failure-head">
        <Link to={jobLogUrl(runId, job)}>{job.key}</Link>{' '}
        {data === undefined ? (
          <span className="muted">{job.statusMessage ?? 'failed'}</span>
        ) : (
          <>
            failed at step <strong className="failing-step">{data.step.name}</strong>
            <span className="muted"> · exit code {data.step.exitCode}</span>
          </>
        )}
      </p>
      <ErrorNote error={error} />
      {data === undefined || data.excerpt.length === 0 ? null : (
        <>
          <Excerpt runId={runId} job={job} lines={data.excerpt} />
          {last === undefined ? null : (
            <Link to={jobLogUrl(runId, job, last)} className="open-at-line">
              Open the log at line {last}
            </Link>
          )}
        </>
      )}
    </div>
  );
}

function Excerpt(props: { runId: string; job: Job; lines: ExcerptLine[] }): ReactNode {
  return (
    <div className="excerpt" role="group" aria-label={`The last lines of ${props.job.key}`}>
      {props.lines.map((line) => (
        <div key={line.n} className="excerpt-line">
          <Link
            to={jobLogUrl(props.runId, props.job, line.n)}
            className="ln"
            aria-label={`Line ${line.n}`}
          >
            {line.n}
          </Link>
          <span className="text">{line.text}</span>
        </div>
      ))}
    </div>
  );
}
