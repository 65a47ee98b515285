import { useEffect, useState, type ReactNode } from 'react';
import {
  api,
  TERMINAL_RUN_STATES,
  type Job,
  type RepositoryRole,
  type RunDetails,
  type User,
} from '../api';
import { absolute, bytes, cpuTime, duration, firstLine, shortSha, when } from '../format';
import { JobGraph } from '../job-graph';
import { RepositoryLink } from '../repository-link';
import { Link, navigate } from '../router';
import { ErrorNote, StateBadge } from '../state-badge';
import { usePoll } from '../use-poll';

type Action = 'cancel' | 'rerun' | 'rerun-failed';

/** A run and its jobs, polled while it goes, with the actions that make sense for it. */
export function RunPage(props: { runId: string; user: User }): ReactNode {
  const {
    data: run,
    error,
    refresh,
  } = usePoll(`run:${props.runId}`, () => api.run(props.runId), 1_500);
  const mayWrite = useMayWrite(props.user, run?.repositoryId);
  const [busy, setBusy] = useState<Action>();
  const [actionError, setActionError] = useState<string>();

  if (run === undefined) return <ErrorNote error={error} />;

  const act = (action: Action): void => {
    setBusy(action);
    setActionError(undefined);
    const call =
      action === 'cancel'
        ? api.cancel(run.id)
        : action === 'rerun'
          ? api.rerun(run.id)
          : api.rerunFailed(run.id);
    call.then(
      (answer) => {
        setBusy(undefined);
        if (answer.id !== run.id) navigate(`/runs/${answer.id}`);
        else refresh();
      },
      (e: unknown) => {
        setBusy(undefined);
        setActionError(e instanceof Error ? e.message : String(e));
      },
    );
  };

  const ended = TERMINAL_RUN_STATES.includes(run.state);
  const actions: { action: Action; label: string }[] = mayWrite
    ? [
        ...(ended ? [] : [{ action: 'cancel' as const, label: 'Cancel' }]),
        ...(ended ? [{ action: 'rerun' as const, label: 'Rerun' }] : []),
        ...(ended && run.jobs.some((j) => j.state === 'failure' || j.state === 'canceled')
          ? [{ action: 'rerun-failed' as const, label: 'Rerun failed jobs' }]
          : []),
      ]
    : [];

  return (
    <section>
      <p className="crumbs">
        <Link to="/">Repositories</Link> / <RepositoryLink id={run.repositoryId} /> /
      </p>
      <div className="run-head">
        <h1>
          Run #{run.number} <StateBadge state={run.state} />
        </h1>
        <div className="actions">
          {actions.map(({ action, label }) => (
            <button
              key={action}
              type="button"
              className={action === 'cancel' ? 'danger' : ''}
              disabled={busy !== undefined}
              onClick={() => act(action)}
            >
              {busy === action ? `${label}…` : label}
            </button>
          ))}
        </div>
      </div>
      <ErrorNote error={actionError} />
      <RunFacts run={run} />
      {run.errors === undefined || run.errors.length === 0 ? null : (
        <ul className="run-errors">
          {run.errors.map((message, i) => (
            <li key={i}>{message}</li>
          ))}
        </ul>
      )}
      <h2>Jobs</h2>
      {run.jobs.length === 0 ? (
        <p className="empty">
          {run.state === 'pending' ? 'Reading .kiln.yml…' : 'This run has no jobs.'}
        </p>
      ) : (
        <>
          <div className="graph-scroll">
            <JobGraph runId={run.id} jobs={run.jobs} />
          </div>
          <table className="jobs">
            <thead>
              <tr>
                <th>Job</th>
                <th>State</th>
                <th>Attempt</th>
                <th>Waited</th>
                <th>Started</th>
                <th>Duration</th>
                <th>CPU</th>
                <th>Peak memory</th>
                <th>Status</th>
              </tr>
            </thead>
            <tbody>
              {run.jobs.map((job) => (
                <JobRow key={job.id} runId={run.id} job={job} />
              ))}
            </tbody>
          </table>
        </>
      )}
      <ErrorNote error={error} />
    </section>
  );
}

function RunFacts({ run }: { run: RunDetails }): ReactNode {
  return (
    <dl className="facts">
      <dt>Commit</dt>
      <dd>
        <code className="sha" title={run.sha}>
          {shortSha(run.sha)}
        </code>{' '}
        {firstLine(run.message)}
      </dd>
      <dt>Branch</dt>
      <dd className="branch">{run.branch ?? run.tag ?? run.ref}</dd>
      <dt>Author</dt>
      <dd>{run.author ?? '—'}</dd>
      <dt>Event</dt>
      <dd>
        {run.event}
        {run.pullRequest === undefined ? '' : ` (pull request #${run.pullRequest})`}
      </dd>
      <dt>Started</dt>
      <dd title={absolute(run.startedAt)}>{when(run.startedAt) || 'not yet'}</dd>
      <dt>Duration</dt>
      <dd>{duration(run.startedAt, run.finishedAt) || '—'}</dd>
    </dl>
  );
}

function JobRow({ runId, job }: { runId: string; job: Job }): ReactNode {
  const status = [
    job.statusMessage,
    job.reason,
    job.exitCode === undefined || job.exitCode === 0 ? undefined : `exit code ${job.exitCode}`,
  ].filter((part) => part !== undefined && part !== '');
  return (
    <tr data-job={job.key}>
      <td>
        <Link to={`/runs/${runId}/jobs/${job.id}`}>{job.key}</Link>
      </td>
      <td>
        <StateBadge state={job.state} />
      </td>
      <td>{job.attempt === 0 ? '' : job.attempt}</td>
      <td title={absolute(job.queuedAt)}>
        {job.queuedAt === undefined || job.state === 'skipped'
          ? ''
          : duration(job.queuedAt, job.startedAt ?? job.finishedAt)}
      </td>
      <td title={absolute(job.startedAt)}>{when(job.startedAt)}</td>
      <td>{duration(job.startedAt, job.finishedAt)}</td>
      <td className="usage-cpu">{cpuTime(job.usage?.cpuSeconds)}</td>
      <td className="usage-mem">{bytes(job.usage?.memPeakBytes)}</td>
      <td className="status">{[...new Set(status)].join(' · ')}</td>
    </tr>
  );
}

/** Whether the user may cancel and rerun in this repository (developer or more). */
function useMayWrite(user: User, repositoryId: string | undefined): boolean {
  const [role, setRole] = useState<RepositoryRole>();
  useEffect(() => {
    if (user.isAdmin || repositoryId === undefined) return;
    let stale = false;
    api.members(repositoryId).then(
      (members) => {
        if (!stale) setRole(members.find((m) => m.userId === user.id)?.role);
      },
      () => undefined, // No role known: the actions stay hidden.
    );
    return () => {
      stale = true;
    };
  }, [user, repositoryId]);
  return user.isAdmin || role === 'developer' || role === 'release-manager';
}
