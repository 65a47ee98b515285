import { useId, useState, type FormEvent, type ReactNode } from 'react';
import { api, type User } from '../api';
import { absolute, when } from '../format';
import { Field, useAction } from '../forms';
import { ErrorNote } from '../state-badge';
import { usePoll } from '../use-poll';
import { useTitle } from '../use-title';

/** Every user (administrators): create one; roles are given on each repository's settings. */
export function UsersPage(props: { user: User }): ReactNode {
  const users = usePoll('users', api.users, 30_000);
  const { busy, error, run } = useAction();
  useTitle('Users');
  if (!props.user.isAdmin) {
    return (
      <section>
        <h1>Users</h1>
        <p className="empty">Only an administrator manages users.</p>
      </section>
    );
  }
  return (
    <section>
      <h1>Users</h1>
      <NewUserForm onCreated={users.refresh} />
      <ErrorNote error={error ?? users.error} />
      {users.data === undefined ? null : (
        <div className="table-scroll">
          <table className="users">
            <thead>
              <tr>
                <th>User</th>
                <th>Administrator</th>
                <th>Created</th>
                <th>State</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {users.data.map((user) => (
                <tr key={user.id} data-user={user.username}>
                  <td>{user.username}</td>
                  <td>{user.isAdmin ? 'yes' : ''}</td>
                  <td title={absolute(user.createdAt)}>{when(user.createdAt)}</td>
                  <td title={absolute(user.disabledAt)}>
                    {user.disabledAt === undefined ? 'active' : 'disabled'}
                  </td>
                  <td className="row-actions">
                    {user.id === props.user.id ? null : (
                      <button
                        type="button"
                        disabled={busy}
                        onClick={() =>
                          run(
                            () => api.setUserDisabled(user.id, user.disabledAt === undefined),
                            users.refresh,
                          )
                        }
                      >
                        {user.disabledAt === undefined ? 'Disable' : 'Enable'}
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <p className="muted">
        A user sees only the repositories they have a role on: give them one in a repository&apos;s
        Settings, under Members. A disabled user cannot sign in, and their API tokens stop working.
      </p>
    </section>
  );
}

function NewUserForm(props: { onCreated: () => void }): ReactNode {
  const id = useId();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [admin, setAdmin] = useState(false);
  const [created, setCreated] = useState<string>();
  const { busy, error, run } = useAction();
  const submit = (event: FormEvent): void => {
    event.preventDefault();
    setCreated(undefined);
    run(
      () => api.createUser({ username: username.trim(), password, admin }),
      (user) => {
        setCreated(user.username);
        setUsername('');
        setPassword('');
        setAdmin(false);
        props.onCreated();
      },
    );
  };
  return (
    <form className="inline-form panel" onSubmit={submit} aria-label="New user">
      <Field id={`${id}-name`} label="Username">
        <input
          id={`${id}-name`}
          value={username}
          onChange={(e) => setUsername(e.target.value)}
          required
          pattern="[a-z0-9][a-z0-9._\-]*"
          maxLength={63}
          autoComplete="off"
        />
      </Field>
      <Field id={`${id}-password`} label="Password" hint="At least 12 characters">
        <input
          id={`${id}-password`}
          type="password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          required
          minLength={12}
          autoComplete="new-password"
          aria-describedby={`${id}-password-hint`}
        />
      </Field>
      <label className="check">
        <input type="checkbox" checked={admin} onChange={(e) => setAdmin(e.target.checked)} />
        Administrator
      </label>
      <button type="submit" className="primary" disabled={busy}>
        Create user
      </button>
      <ErrorNote error={error} />
      {created === undefined ? null : <p role="status">{created} can sign in now.</p>}
    </form>
  );
}
