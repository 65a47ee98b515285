import type { ReactNode } from 'react';
import { api, type Run } from '../api';
import { duration, firstLine, shortSha, when, absolute } from '../format';
import { environmentsUrl } from '../promotions';
import { Link } from '../router';
import { ErrorNote, StateBadge } from '../state-badge';
import { usePoll } from '../use-poll';

/** A repository's runs, newest first, polled so new runs and state changes show up live. */
export function RepositoryPage(props: { id: string }): ReactNode {
  const repository = usePoll(`repository:${props.id}`, () => api.repository(props.id), 30_000);
  const runs = usePoll(`runs:${props.id}`, () => api.runs(props.id), 1_500);
  return (
    <section>
      <p className="crumbs">
        <Link to="/">Repositories</Link> /
      </p>
      <div className="run-head">
        <h1>{repository.data?.fullName ?? 'Repository'}</h1>
        <div className="actions">
          <Link to={environmentsUrl(props.id)} className="button">
            Environments
          </Link>
        </div>
      </div>
      <ErrorNote error={repository.error ?? runs.error} />
      {runs.data === undefined ? null : runs.data.runs.length === 0 ? (
        <p className="empty">No runs yet: push to the repository or trigger one.</p>
      ) : (
        <table className="runs">
          <thead>
            <tr>
              <th>Run</th>
              <th>State</th>
              <th>Commit</th>
              <th>Branch</th>
              <th>Author</th>
              <th>Event</th>
              <th>Started</th>
              <th>Duration</th>
            </tr>
          </thead>
          <tbody>
            {runs.data.runs.map((run) => (
              <RunRow key={run.id} run={run} />
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function RunRow({ run }: { run: Run }): ReactNode {
  return (
    <tr data-run={run.number}>
      <td>
        <Link to={`/runs/${run.id}`}>#{run.number}</Link>
      </td>
      <td>
        <StateBadge state={run.state} />
      </td>
      <td className="commit">
        <Link to={`/runs/${run.id}`}>{firstLine(run.message) || '(no message)'}</Link>
        <code className="sha">{shortSha(run.sha)}</code>
      </td>
      <td className="branch">{run.branch ?? run.tag ?? run.ref}</td>
      <td>{run.author ?? ''}</td>
      <td>
        {run.event}
        {run.pullRequest === undefined ? '' : ` #${run.pullRequest}`}
        {run.environment === undefined ? '' : ` → ${run.environment}`}
      </td>
      <td title={absolute(run.startedAt ?? run.createdAt)}>
        {when(run.startedAt ?? run.createdAt)}
      </td>
      <td>{duration(run.startedAt, run.finishedAt)}</td>
    </tr>
  );
}
