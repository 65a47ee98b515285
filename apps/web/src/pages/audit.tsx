import { useState, type FormEvent, type ReactNode } from 'react';
import { api, type User } from '../api';
import { absolute, when } from '../format';
import { Link } from '../router';
import { ErrorNote } from '../state-badge';
import { usePages } from '../use-pages';

const PAGE_SIZE = 50;

/** What the server records (`AuditEventResponse.action`), for the filter. */
const ACTIONS = [
  'promotion.requested',
  'promotion.approved',
  'promotion.rejected',
  'promotion.canceled',
  'promotion.expired',
  'run.canceled',
  'secret.set',
  'secret.deleted',
  'role.granted',
  'role.revoked',
  'token.created',
  'token.revoked',
  'user.created',
  'repository.created',
  'repository.updated',
  'repository.webhook-secret-rotated',
  'repository.deleted',
  'environment.saved',
  'environment.deleted',
] as const;

/** Who did what, newest first: for admins only, as the server insists too. */
export function AuditPage(props: { user: User }): ReactNode {
  if (!props.user.isAdmin) {
    return (
      <section>
        <h1>Audit log</h1>
        <p className="empty">Only admins read the audit log.</p>
      </section>
    );
  }
  return <AuditLog />;
}

function AuditLog(): ReactNode {
  const [filter, setFilter] = useState({ action: '', actor: '' });
  const [actor, setActor] = useState('');
  const log = usePages(
    `audit:${filter.action}:${filter.actor}`,
    async (before) => {
      const page = await api.audit({ ...filter, limit: PAGE_SIZE, before });
      return page.next === undefined
        ? { items: page.events }
        : { items: page.events, next: page.next };
    },
    10_000,
  );

  const apply = (event: FormEvent): void => {
    event.preventDefault();
    setFilter({ ...filter, actor: actor.trim() });
  };

  return (
    <section>
      <h1>Audit log</h1>
      <form className="filters" onSubmit={apply}>
        <label>
          Action
          <select
            value={filter.action}
            onChange={(e) => setFilter({ action: e.target.value, actor: actor.trim() })}
          >
            <option value="">any</option>
            {ACTIONS.map((action) => (
              <option key={action} value={action}>
                {action}
              </option>
            ))}
          </select>
        </label>
        <label>
          Actor
          <input
            value={actor}
            onChange={(e) => setActor(e.target.value)}
            placeholder="username"
            maxLength={63}
          />
        </label>
        <button type="submit">Filter</button>
      </form>
      <ErrorNote error={log.error} />
      {log.items === undefined ? null : log.items.length === 0 ? (
        <p className="empty">No events match.</p>
      ) : (
        <table className="audit">
          <thead>
            <tr>
              <th>Time</th>
              <th>Actor</th>
              <th>Action</th>
              <th>Summary</th>
              <th>Repository</th>
            </tr>
          </thead>
          <tbody>
            {log.items.map((event) => (
              <tr key={event.id} data-event={event.id} data-action={event.action}>
                <td title={absolute(event.at)}>{when(event.at)}</td>
                <td>{event.actor ?? <span className="muted">Kiln</span>}</td>
                <td>
                  <code>{event.action}</code>
                </td>
                <td className="wrap" title={`${event.objectType} ${event.objectId}`}>
                  {event.summary}
                </td>
                <td>
                  {event.repositoryId === undefined ? null : (
                    <Link to={`/repositories/${event.repositoryId}`}>
                      {event.repositoryFullName ?? 'repository'}
                    </Link>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {log.hasOlder ? (
        <p>
          <button type="button" disabled={log.loadingOlder} onClick={log.older}>
            {log.loadingOlder ? 'Older…' : 'Older'}
          </button>
        </p>
      ) : null}
    </section>
  );
}
