import type { ReactNode } from 'react';
import { api, type User } from '../api';
import { Link } from '../router';
import { ErrorNote } from '../state-badge';
import { usePoll } from '../use-poll';
import { useTitle } from '../use-title';

export function RepositoriesPage(props: { user: User }): ReactNode {
  const { data, error } = usePoll('repositories', api.repositories, 10_000);
  useTitle('Repositories');
  return (
    <section>
      <div className="run-head">
        <h1>Repositories</h1>
        {props.user.isAdmin ? (
          <div className="actions">
            <Link to="/repositories/new" className="button primary">
              Register repository
            </Link>
          </div>
        ) : null}
      </div>
      <ErrorNote error={error} />
      {data === undefined ? null : data.length === 0 ? (
        <p className="empty">
          {props.user.isAdmin
            ? 'No repositories yet: register one, then add its webhook on the forge.'
            : 'No repositories yet, or none you have a role on: an administrator gives you a role.'}
        </p>
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
