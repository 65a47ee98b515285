import type { ReactNode } from 'react';
import { api } from '../api';
import { Link } from '../router';
import { ErrorNote } from '../state-badge';
import { usePoll } from '../use-poll';

export function RepositoriesPage(): ReactNode {
  const { data, error } = usePoll('repositories', api.repositories, 10_000);
  return (
    <section>
      <h1>Repositories</h1>
      <ErrorNote error={error} />
      {data === undefined ? null : data.length === 0 ? (
        <p className="empty">No repositories yet, or none you have a role on.</p>
      ) : (
        <ul className="repositories">
          {data.map((repository) => (
            <li key={repository.id}>
              <Link to={`/repositories/${repository.id}`}>{repository.fullName}</Link>
              <span className="muted">
                {repository.forge} · {repository.defaultBranch}
              </span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
