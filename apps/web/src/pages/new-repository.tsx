import { useId, useState, type FormEvent, type ReactNode } from 'react';
import { api, FORGES, type Forge, type Repository, type User } from '../api';
import { Field, useAction } from '../forms';
import { Link } from '../router';
import { ErrorNote } from '../state-badge';
import { useTitle } from '../use-title';
import { WebhookSettings } from '../webhook-settings';

/**
 * Registers a repository (administrators), then shows what to enter on the forge: the webhook URL
 * and the secret, which exists in this page's state only and is gone once the page is left.
 */
export function NewRepositoryPage(props: { user: User }): ReactNode {
  const [created, setCreated] = useState<Repository & { webhookSecret: string }>();
  useTitle('Register a repository');
  if (!props.user.isAdmin) {
    return (
      <section>
        <h1>Register a repository</h1>
        <p className="empty">Only an administrator registers repositories.</p>
      </section>
    );
  }
  return (
    <section className="narrow">
      <p className="crumbs">
        <Link to="/">Repositories</Link> /
      </p>
      {created === undefined ? (
        <>
          <h1>Register a repository</h1>
          <RepositoryForm onCreated={setCreated} />
        </>
      ) : (
        <>
          <h1>{created.fullName} is registered</h1>
          <p>Add this webhook on the forge; every push then starts a run of its .kiln.yml.</p>
          <WebhookSettings repository={created} secret={created.webhookSecret} />
          <div className="actions">
            <Link to={`/repositories/${created.id}`} className="button primary">
              Go to {created.fullName}
            </Link>
            <Link to={`/repositories/${created.id}/settings`} className="button">
              Settings
            </Link>
          </div>
        </>
      )}
    </section>
  );
}

function RepositoryForm(props: {
  onCreated: (repository: Repository & { webhookSecret: string }) => void;
}): ReactNode {
  const id = useId();
  const [forge, setForge] = useState<Forge>('github');
  const [fullName, setFullName] = useState('');
  const [cloneUrl, setCloneUrl] = useState('');
  const [defaultBranch, setDefaultBranch] = useState('');
  const [forgeToken, setForgeToken] = useState('');
  const [apiUrl, setApiUrl] = useState('');
  const { busy, error, run } = useAction();

  const submit = (event: FormEvent): void => {
    event.preventDefault();
    const optional = (name: string, value: string): Record<string, string> =>
      value.trim() === '' ? {} : { [name]: value.trim() };
    run(
      () =>
        api.createRepository({
          forge,
          fullName: fullName.trim(),
          cloneUrl: cloneUrl.trim(),
          ...optional('defaultBranch', defaultBranch),
          // A token is taken as typed: spaces may belong to it.
          ...(forgeToken === '' ? {} : { forgeToken }),
          ...optional('apiUrl', apiUrl),
        }),
      props.onCreated,
    );
  };

  return (
    <form className="stacked" onSubmit={submit}>
      <Field id={`${id}-forge`} label="Forge">
        <select
          id={`${id}-forge`}
          value={forge}
          onChange={(e) => setForge(e.target.value as Forge)}
        >
          {FORGES.map((name) => (
            <option key={name} value={name}>
              {FORGE_NAMES[name]}
            </option>
          ))}
        </select>
      </Field>
      <Field id={`${id}-name`} label="Name" hint="owner/name as the forge spells it">
        <input
          id={`${id}-name`}
          value={fullName}
          onChange={(e) => setFullName(e.target.value)}
          required
          maxLength={255}
          placeholder="acme/app"
          autoComplete="off"
          aria-describedby={`${id}-name-hint`}
        />
      </Field>
      <Field id={`${id}-clone`} label="Clone URL" hint="Any URL git can clone: https, ssh, git">
        <input
          id={`${id}-clone`}
          value={cloneUrl}
          onChange={(e) => setCloneUrl(e.target.value)}
          required
          maxLength={2048}
          placeholder="https://github.com/acme/app.git"
          autoComplete="off"
          aria-describedby={`${id}-clone-hint`}
        />
      </Field>
      <Field id={`${id}-branch`} label="Default branch" hint="Empty: main">
        <input
          id={`${id}-branch`}
          value={defaultBranch}
          onChange={(e) => setDefaultBranch(e.target.value)}
          placeholder="main"
          autoComplete="off"
          aria-describedby={`${id}-branch-hint`}
        />
      </Field>
      <Field
        id={`${id}-token`}
        label="Forge token"
        hint="Optional: lets Kiln set commit statuses (and clone private repositories); never shown again"
      >
        <input
          id={`${id}-token`}
          type="password"
          value={forgeToken}
          onChange={(e) => setForgeToken(e.target.value)}
          autoComplete="off"
          aria-describedby={`${id}-token-hint`}
        />
      </Field>
      <Field
        id={`${id}-api`}
        label="Forge API URL"
        hint="Optional, for a self-hosted forge; empty: derived from the forge and the clone URL"
      >
        <input
          id={`${id}-api`}
          value={apiUrl}
          onChange={(e) => setApiUrl(e.target.value)}
          placeholder="https://git.example.com/api/v1"
          autoComplete="off"
          aria-describedby={`${id}-api-hint`}
        />
      </Field>
      <ErrorNote error={error} />
      <div className="actions">
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Register…' : 'Register'}
        </button>
      </div>
    </form>
  );
}

export const FORGE_NAMES: Record<Forge, string> = {
  github: 'GitHub',
  gitlab: 'GitLab',
  gitea: 'Gitea',
  forgejo: 'Forgejo',
  bitbucket: 'Bitbucket',
};
