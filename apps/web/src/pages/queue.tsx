import type { ReactNode } from 'react';
import { api } from '../api';
import { absolute, duration, when } from '../format';
import { Link } from '../router';
import { ErrorNote, StateBadge } from '../state-badge';
import { useLive } from '../use-live';

/** The jobs that wait to run, longest waiting first, and why they wait. */
export function QueuePage(): ReactNode {
  const { data, error } = useLive('queue', api.queue, ['queue']);
  return (
    <section>
      <h1>Queue</h1>
      <ErrorNote error={error} />
      {data === undefined ? null : data.length === 0 ? (
        <p className="empty">Nothing waits: every job has run or is running.</p>
      ) : (
        <table className="queue">
          <thead>
            <tr>
              <th>Repository</th>
              <th>Run</th>
              <th>Job</th>
              <th>State</th>
              <th>Waiting</th>
              <th>Why</th>
            </tr>
          </thead>
          <tbody>
            {data.map((job) => (
              <tr key={job.jobId} data-job={job.key}>
                <td>
                  <Link to={`/repositories/${job.repositoryId}`}>{job.repositoryName}</Link>
                </td>
                <td>
                  <Link to={`/runs/${job.runId}`}>#{job.runNumber}</Link>
                </td>
                <td>
                  <Link to={`/runs/${job.runId}/jobs/${job.jobId}`}>{job.key}</Link>
                </td>
                <td>
                  <StateBadge state={job.state} />
                </td>
                <td title={`since ${absolute(job.waitingSince)} (${when(job.waitingSince)})`}>
                  {duration(job.waitingSince)}
                </td>
                <td className="status">{job.statusMessage ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
