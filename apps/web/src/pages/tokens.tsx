import { useState, type FormEvent, type ReactNode } from 'react';
import { api } from '../api';
import { absolute, when } from '../format';
import { ErrorNote } from '../state-badge';
import { usePoll } from '../use-poll';

/** The user's personal API tokens: create one (shown once), revoke one. */
export function TokensPage(): ReactNode {
  const { data, error, refresh } = usePoll('tokens', api.tokens, 30_000);
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState<string>();
  // The new token lives in this component's state only: it is gone once the page is left.
  const [created, setCreated] = useState<{ name: string; token: string }>();
  const [copied, setCopied] = useState(false);

  const fail = (e: unknown): void => {
    setBusy(false);
    setActionError(e instanceof Error ? e.message : String(e));
  };

  const create = (event: FormEvent): void => {
    event.preventDefault();
    setBusy(true);
    setActionError(undefined);
    setCopied(false);
    api.createToken(name.trim()).then((answer) => {
      setBusy(false);
      setCreated({ name: answer.name, token: answer.token });
      setName('');
      refresh();
    }, fail);
  };

  const revoke = (id: string): void => {
    setBusy(true);
    setActionError(undefined);
    api.revokeToken(id).then(() => {
      setBusy(false);
      refresh();
    }, fail);
  };

  const copy = (token: string): void => {
    navigator.clipboard.writeText(token).then(
      () => setCopied(true),
      () => setActionError('The browser refused the clipboard: select the token and copy it.'),
    );
  };

  return (
    <section>
      <h1>API tokens</h1>
      <p className="muted">
        A token acts as you on the API and the <code>kiln</code> command: send it as{' '}
        <code>Authorization: Bearer …</code>.
      </p>
      <form className="token-form" onSubmit={create}>
        <label>
          Name
          <input
            value={name}
            onChange={(e) => setName(e.target.value)}
            maxLength={100}
            required
            placeholder="laptop cli"
          />
        </label>
        <button type="submit" className="primary" disabled={busy || name.trim() === ''}>
          Create token
        </button>
      </form>
      {created === undefined ? null : (
        <div className="new-token" role="status">
          <p>
            Your new token <strong>{created.name}</strong>. It is shown this once: copy it now.
          </p>
          <div className="new-token-value">
            <code data-token>{created.token}</code>
            <button type="button" onClick={() => copy(created.token)}>
              {copied ? 'Copied' : 'Copy'}
            </button>
          </div>
        </div>
      )}
      <ErrorNote error={actionError ?? error} />
      {data === undefined ? null : data.length === 0 ? (
        <p className="empty">No tokens yet.</p>
      ) : (
        <table className="tokens">
          <thead>
            <tr>
              <th>Name</th>
              <th>Created</th>
              <th>Last used</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {data.map((token) => (
              <tr key={token.id} data-token-name={token.name}>
                <td>{token.name}</td>
                <td title={absolute(token.createdAt)}>{when(token.createdAt)}</td>
                <td title={absolute(token.lastUsedAt)}>{when(token.lastUsedAt) || 'never'}</td>
                <td className="row-actions">
                  <button
                    type="button"
                    className="danger"
                    disabled={busy}
                    onClick={() => revoke(token.id)}
                  >
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
