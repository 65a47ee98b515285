import { useState, type ReactNode } from 'react';
import {
  api,
  artifactUrl,
  TERMINAL_RUN_STATES,
  type Artifact,
  type Job,
  type Promotion,
  type RunDetails,
  type User,
} from '../api';
import { absolute, bytes, cpuTime, duration, firstLine, shortDigest, when } from '../format';
import { FailedJobs } from '../failed-jobs';
import { RefName, Sha, useForgeLinks } from '../forge-link';
import { CopyButton } from '../forms';
import { JobGraph } from '../job-graph';
import { environmentsUrl, environmentUrl, PromoteDialog, type PromoteChoice } from '../promotions';
import { RepositoryLink } from '../repository-link';
import { Link, navigate } from '../router';
import { ErrorNote, StateBadge } from '../state-badge';
import { usePermissions } from '../use-permissions';
import { useLive } from '../use-live';
import { usePoll } from '../use-poll';
import { useTitle } from '../use-title';

type Action = 'cancel' | 'rerun' | 'rerun-failed';

/** A run and its jobs, live while it goes, with the actions that make sense for it. */
export function RunPage(props: { runId: string; user: User }): ReactNode {
  const {
    data: run,
    error,
    refresh,
  } = useLive(`run:${props.runId}`, () => api.run(props.runId), [`run:${props.runId}`]);
  const permissions = usePermissions(props.user, run?.repositoryId);
  const [busy, setBusy] = useState<Action>();
  const [actionError, setActionError] = useState<string>();
  const [promoted, setPromoted] = useState<Promotion>();
  useTitle(run === undefined ? 'Run' : `Run #${run.number} ${run.state}`);

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
  // A deployment is never rerun, whole or its failed jobs (the server answers 409): a new
  // promotion deploys again.
  const deployment = run.event === 'promote';
  const actions: { action: Action; label: string }[] = permissions.write
    ? [
        ...(ended ? [] : [{ action: 'cancel' as const, label: 'Cancel' }]),
        ...(ended && !deployment ? [{ action: 'rerun' as const, label: 'Rerun' }] : []),
        ...(ended &&
        !deployment &&
        run.jobs.some((j) => j.state === 'failure' || j.state === 'canceled')
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
          {permissions.release && run.state === 'success' && run.event !== 'promote' ? (
            <PromoteControl
              run={run}
              onError={setActionError}
              onPromoted={(promotion) => {
                setActionError(undefined);
                setPromoted(promotion);
              }}
            />
          ) : null}
        </div>
      </div>
      <ErrorNote error={actionError} />
      {promoted === undefined ? null : (
        <p
          className="promote-outcome"
          role="status"
          data-promotion={promoted.id}
          data-state={promoted.state}
        >
          Promotion to {promoted.environment}: <StateBadge state={promoted.state} />{' '}
          <Link to={environmentsUrl(run.repositoryId)}>see the environments</Link>
        </p>
      )}
      <PromotedRun run={run} />
      <RunFacts run={run} />
      {run.errors === undefined || run.errors.length === 0 ? null : (
        <ul className="run-errors">
          {run.errors.map((message, i) => (
            <li key={i}>{message}</li>
          ))}
        </ul>
      )}
      <FailedJobs runId={run.id} jobs={run.jobs} />
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
          <RunArtifacts jobs={run.jobs} />
        </>
      )}
      <ErrorNote error={error} />
    </section>
  );
}

function RunFacts({ run }: { run: RunDetails }): ReactNode {
  const links = useForgeLinks(run.repositoryId);
  return (
    <dl className="facts">
      <dt>Commit</dt>
      <dd className="run-commit">
        <Sha sha={run.sha} links={links} /> {firstLine(run.message)}
      </dd>
      <dt>Branch</dt>
      <dd className="branch">
        <RefName run={run} links={links} />
      </dd>
      <dt>Author</dt>
      <dd>{run.author ?? '—'}</dd>
      <dt>Event</dt>
      <dd>
        {run.event}
        {run.pullRequest === undefined ? '' : ` (pull request #${run.pullRequest})`}
        {run.environment === undefined ? '' : ` to ${run.environment}`}
      </dd>
      <dt>Started</dt>
      <dd title={absolute(run.startedAt)}>
        {when(run.startedAt) || (TERMINAL_RUN_STATES.includes(run.state) ? 'never' : 'not yet')}
      </dd>
      <dt>Duration</dt>
      <dd>{duration(run.startedAt, run.finishedAt) || '—'}</dd>
      <dt>Run id</dt>
      <dd className="run-id">
        <code>{run.id}</code> <CopyButton value={run.id} what="run id" />
      </dd>
    </dl>
  );
}

function JobRow({ runId, job }: { runId: string; job: Job }): ReactNode {
  // The status message names the reason and the exit code already; they stand in when it is absent.
  const status =
    job.statusMessage !== undefined && job.statusMessage !== ''
      ? [job.statusMessage]
      : [
          job.reason,
          job.exitCode === undefined || job.exitCode === 0
            ? undefined
            : `exit code ${job.exitCode}`,
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
      <td className="status">{status.join(' · ')}</td>
    </tr>
  );
}

/** A `promote` run deploys another run: which, and where. */
function PromotedRun({ run }: { run: RunDetails }): ReactNode {
  if (run.promotedRun === undefined || run.environment === undefined) return null;
  return (
    <p className="promoted-run" data-promoted-run={run.promotedRun.number}>
      Deploys <Link to={`/runs/${run.promotedRun.id}`}>run #{run.promotedRun.number}</Link> to{' '}
      <Link to={environmentUrl(run.repositoryId, run.environment)}>{run.environment}</Link>
    </p>
  );
}

/**
 * "Promote…": loads the repository's environments with whether this run may go to each (the
 * server's policy says), then asks which one and for confirmation; the others are shown with
 * the reason, not offered.
 */
function PromoteControl(props: {
  run: RunDetails;
  onError: (message: string | undefined) => void;
  onPromoted: (promotion: Promotion) => void;
}): ReactNode {
  const { run } = props;
  const [environments, setEnvironments] = useState<PromoteChoice[]>();
  const [loading, setLoading] = useState(false);

  const open = (): void => {
    setLoading(true);
    props.onError(undefined);
    api.environments(run.repositoryId, run.id).then(
      (board) => {
        setLoading(false);
        if (board.length === 0) {
          props.onError('This repository has no environments: an admin defines them first.');
          return;
        }
        // Where the run is listed as next comes first; a redeploy of it after.
        const ready = (entry: (typeof board)[number]): boolean =>
          entry.promotable.some((candidate) => candidate.id === run.id);
        setEnvironments(
          [...board.filter(ready), ...board.filter((entry) => !ready(entry))].map(
            ({ environment, eligibility }) =>
              eligibility === undefined || eligibility.eligible
                ? { name: environment.name }
                : { name: environment.name, refusal: eligibility.reason ?? 'not allowed now' },
          ),
        );
      },
      (e: unknown) => {
        setLoading(false);
        props.onError(e instanceof Error ? e.message : String(e));
      },
    );
  };

  return (
    <>
      <button type="button" className="primary" disabled={loading} onClick={open}>
        Promote…
      </button>
      {environments === undefined ? null : (
        <PromoteDialog
          run={run}
          environments={environments}
          onClose={() => setEnvironments(undefined)}
          onPromoted={(promotion) => {
            setEnvironments(undefined);
            props.onPromoted(promotion);
          }}
        />
      )}
    </>
  );
}

/** The files the run's ended jobs kept, each with its digest and a download link. */
function RunArtifacts({ jobs }: { jobs: Job[] }): ReactNode {
  // Only ended attempts have their artifacts uploaded; a job's end (or rerun) loads again.
  const ended = jobs.filter(
    (job) =>
      job.attempt > 0 &&
      (job.state === 'success' || job.state === 'failure' || job.state === 'canceled'),
  );
  const key = ended.map((job) => `${job.id}@${job.attempt}`).join(',');
  const { data, error } = usePoll(`artifacts:${key}`, () =>
    Promise.all(
      ended.map(async (job) => ({ job, artifacts: await api.artifacts(job.id, job.attempt) })),
    ),
  );
  const rows = (data ?? []).flatMap(({ job, artifacts }) =>
    artifacts.map((artifact) => ({ job, artifact })),
  );
  if (ended.length === 0) return null;
  return (
    <>
      <h2>Artifacts</h2>
      <ErrorNote error={error} />
      {data === undefined ? null : rows.length === 0 ? (
        <p className="empty">No job kept artifacts.</p>
      ) : (
        <table className="artifacts">
          <thead>
            <tr>
              <th>Job</th>
              <th>Name</th>
              <th>Size</th>
              <th>SHA-256</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {rows.map(({ job, artifact }) => (
              <ArtifactRow key={`${job.id}/${artifact.name}`} job={job} artifact={artifact} />
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

function ArtifactRow({ job, artifact }: { job: Job; artifact: Artifact }): ReactNode {
  const url = artifactUrl(job.id, artifact.name, artifact.attempt);
  return (
    <tr data-artifact={artifact.name} data-artifact-job={job.key}>
      <td>{job.key}</td>
      <td>
        <code>{artifact.name}</code>
      </td>
      <td>{bytes(artifact.size)}</td>
      <td>
        <code className="sha" title={artifact.sha256}>
          {shortDigest(artifact.sha256)}
        </code>
      </td>
      <td className="row-actions">
        <a href={url} download={artifact.name.split('/').at(-1)}>
          Download
        </a>
      </td>
    </tr>
  );
}
