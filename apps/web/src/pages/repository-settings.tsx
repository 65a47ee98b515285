import { useId, useState, type FormEvent, type ReactNode } from 'react';
import { api, REPOSITORY_ROLES, type Repository, type RepositoryRole, type User } from '../api';
import { absolute, when } from '../format';
import { ConfirmDialog, Field, useAction } from '../forms';
import { Link, navigate } from '../router';
import { ErrorNote } from '../state-badge';
import { usePermissions, type Permissions } from '../use-permissions';
import { usePoll } from '../use-poll';
import { useTitle } from '../use-title';
import { WebhookSettings } from '../webhook-settings';

/**
 * A repository's settings: what administrators change (the repository, its forge token, its
 * webhook secret, who has which role), what release managers change (secrets), what developers
 * change (schedules). Each section shows only what the user may do; the server decides anyway.
 */
export function RepositorySettingsPage(props: { id: string; user: User }): ReactNode {
  const repository = usePoll(`repository:${props.id}`, () => api.repository(props.id), 30_000);
  const permissions = usePermissions(props.user, props.id);
  const admin = props.user.isAdmin;
  useTitle(`Settings · ${repository.data?.fullName ?? 'repository'}`);
  if (repository.data === undefined) return <ErrorNote error={repository.error} />;
  const repo = repository.data;
  return (
    <section className="settings">
      <p className="crumbs">
        <Link to="/">Repositories</Link> /{' '}
        <Link to={`/repositories/${repo.id}`}>{repo.fullName}</Link> /
      </p>
      <h1>Settings</h1>
      {admin ? <GeneralSettings repository={repo} onSaved={repository.refresh} /> : null}
      {admin ? <ForgeToken repository={repo} onSaved={repository.refresh} /> : null}
      {admin ? <Webhook repository={repo} /> : null}
      <Members repositoryId={repo.id} admin={admin} />
      {permissions.write ? <Secrets repositoryId={repo.id} permissions={permissions} /> : null}
      <Schedules repository={repo} permissions={permissions} />
      {admin ? <RemoveRepository repository={repo} /> : null}
    </section>
  );
}

function GeneralSettings(props: { repository: Repository; onSaved: () => void }): ReactNode {
  const id = useId();
  const { repository } = props;
  const [defaultBranch, setDefaultBranch] = useState(repository.defaultBranch);
  const [apiUrl, setApiUrl] = useState(repository.apiUrl ?? '');
  const [autoCancel, setAutoCancel] = useState(repository.autoCancelPullRequests);
  const [saved, setSaved] = useState(false);
  const { busy, error, run } = useAction();
  const save = (event: FormEvent): void => {
    event.preventDefault();
    setSaved(false);
    run(
      () =>
        api.updateRepository(repository.id, {
          defaultBranch: defaultBranch.trim(),
          apiUrl: apiUrl.trim() === '' ? null : apiUrl.trim(),
          autoCancelPullRequests: autoCancel,
        }),
      () => {
        setSaved(true);
        props.onSaved();
      },
    );
  };
  return (
    <form className="stacked panel" onSubmit={save} aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>Repository</h2>
      <p className="muted">
        {repository.forge} · clone URL <code>{repository.cloneUrl}</code>
      </p>
      <Field id={`${id}-branch`} label="Default branch">
        <input
          id={`${id}-branch`}
          value={defaultBranch}
          onChange={(e) => setDefaultBranch(e.target.value)}
          required
          autoComplete="off"
        />
      </Field>
      <Field
        id={`${id}-api`}
        label="Forge API URL"
        hint="Empty: derived from the forge and the clone URL"
      >
        <input
          id={`${id}-api`}
          value={apiUrl}
          onChange={(e) => setApiUrl(e.target.value)}
          autoComplete="off"
          aria-describedby={`${id}-api-hint`}
        />
      </Field>
      <label className="check">
        <input
          type="checkbox"
          checked={autoCancel}
          onChange={(e) => setAutoCancel(e.target.checked)}
        />
        New pushes to a pull request cancel its older unfinished runs
      </label>
      <ErrorNote error={error} />
      <div className="actions">
        <button type="submit" className="primary" disabled={busy}>
          Save
        </button>
        {saved ? <span role="status">Saved</span> : null}
      </div>
    </form>
  );
}

/** The forge token is write-only: the page says whether one is set, never what it is. */
function ForgeToken(props: { repository: Repository; onSaved: () => void }): ReactNode {
  const id = useId();
  const [token, setToken] = useState('');
  const { busy, error, run } = useAction();
  const save = (value: string | null): void =>
    run(
      () => api.updateRepository(props.repository.id, { forgeToken: value }),
      () => {
        setToken('');
        props.onSaved();
      },
    );
  return (
    <form
      className="stacked panel"
      aria-labelledby={`${id}-title`}
      onSubmit={(event) => {
        event.preventDefault();
        save(token);
      }}
    >
      <h2 id={`${id}-title`}>Forge token</h2>
      <p className="muted" data-forge-token={props.repository.hasForgeToken ? 'set' : 'unset'}>
        {props.repository.hasForgeToken
          ? 'A token is set: Kiln sets commit statuses with it. It is never shown.'
          : 'No token: Kiln sets no commit statuses.'}
      </p>
      <Field id={`${id}-token`} label={props.repository.hasForgeToken ? 'New token' : 'Token'}>
        <input
          id={`${id}-token`}
          type="password"
          value={token}
          onChange={(e) => setToken(e.target.value)}
          autoComplete="off"
          required
        />
      </Field>
      <ErrorNote error={error} />
      <div className="actions">
        <button type="submit" className="primary" disabled={busy || token === ''}>
          Set token
        </button>
        {props.repository.hasForgeToken ? (
          <button type="button" disabled={busy} onClick={() => save(null)}>
            Remove token
          </button>
        ) : null}
      </div>
    </form>
  );
}

/** The webhook URL, and a new secret on demand, shown once (the old one stops working). */
function Webhook(props: { repository: Repository }): ReactNode {
  const id = useId();
  const [asking, setAsking] = useState(false);
  const [secret, setSecret] = useState<string>();
  return (
    <div className="panel" role="group" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>Webhook</h2>
      <WebhookSettings
        repository={props.repository}
        {...(secret === undefined ? {} : { secret })}
      />
      <div className="actions">
        <button type="button" onClick={() => setAsking(true)}>
          Rotate secret…
        </button>
      </div>
      {asking ? (
        <ConfirmDialog
          title="Rotate the webhook secret?"
          text="The forge's deliveries fail until its webhook has the new secret."
          label="Rotate"
          danger
          call={() => api.rotateWebhookSecret(props.repository.id)}
          onClose={() => setAsking(false)}
          onDone={(answer) => {
            setAsking(false);
            setSecret(answer.webhookSecret);
          }}
        />
      ) : null}
    </div>
  );
}

/** Who has which role; administrators give, change and take roles. */
function Members(props: { repositoryId: string; admin: boolean }): ReactNode {
  const id = useId();
  const members = usePoll(
    `members:${props.repositoryId}`,
    () => api.members(props.repositoryId),
    30_000,
  );
  const users = usePoll(
    `users:${props.admin}`,
    () => (props.admin ? api.users() : Promise.resolve([])),
    60_000,
  );
  const [userId, setUserId] = useState('');
  const [role, setRole] = useState<RepositoryRole>('developer');
  const { busy, error, run } = useAction();
  const candidates = (users.data ?? []).filter(
    (user) => !user.isAdmin && !(members.data ?? []).some((m) => m.userId === user.id),
  );
  const change = (member: string, to: RepositoryRole | undefined): void =>
    run(
      () =>
        to === undefined
          ? api.removeRole(props.repositoryId, member)
          : api.setRole(props.repositoryId, member, to).then(() => undefined),
      members.refresh,
    );
  return (
    <div className="panel" role="group" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>Members</h2>
      <p className="muted">
        Viewers read runs and logs; developers also start, cancel and rerun runs; release managers
        also manage secrets and promote. Administrators may do everything everywhere.
      </p>
      <ErrorNote error={members.error} />
      {members.data === undefined ? null : members.data.length === 0 ? (
        <p className="empty">Nobody has a role here yet.</p>
      ) : (
        <div className="table-scroll">
          <table className="members">
            <thead>
              <tr>
                <th>User</th>
                <th>Role</th>
                {props.admin ? <th /> : null}
              </tr>
            </thead>
            <tbody>
              {members.data.map((member) => (
                <tr key={member.userId} data-member={member.username}>
                  <td>{member.username}</td>
                  <td>
                    {props.admin ? (
                      <select
                        aria-label={`Role of ${member.username}`}
                        value={member.role}
                        disabled={busy}
                        onChange={(e) => change(member.userId, e.target.value as RepositoryRole)}
                      >
                        {REPOSITORY_ROLES.map((r) => (
                          <option key={r} value={r}>
                            {r}
                          </option>
                        ))}
                      </select>
                    ) : (
                      member.role
                    )}
                  </td>
                  {props.admin ? (
                    <td className="row-actions">
                      <button
                        type="button"
                        disabled={busy}
                        onClick={() => change(member.userId, undefined)}
                      >
                        Remove
                      </button>
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {props.admin ? (
        <form
          className="inline-form"
          onSubmit={(event) => {
            event.preventDefault();
            if (userId !== '') change(userId, role);
            setUserId('');
          }}
        >
          <Field id={`${id}-user`} label="User">
            <select
              id={`${id}-user`}
              value={userId}
              onChange={(e) => setUserId(e.target.value)}
              required
            >
              <option value="">choose a user</option>
              {candidates.map((user) => (
                <option key={user.id} value={user.id}>
                  {user.username}
                </option>
              ))}
            </select>
          </Field>
          <Field id={`${id}-role`} label="Role">
            <select
              id={`${id}-role`}
              value={role}
              onChange={(e) => setRole(e.target.value as RepositoryRole)}
            >
              {REPOSITORY_ROLES.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          </Field>
          <button type="submit" className="primary" disabled={busy || userId === ''}>
            Add member
          </button>
          <Link to="/users">New user…</Link>
        </form>
      ) : null}
      <ErrorNote error={error} />
    </div>
  );
}

/** Build secrets by name; a value goes in and never comes out. */
function Secrets(props: { repositoryId: string; permissions: Permissions }): ReactNode {
  const id = useId();
  const secrets = usePoll(
    `secrets:${props.repositoryId}`,
    () => api.secrets(props.repositoryId),
    30_000,
  );
  const environments = usePoll(
    `environment-names:${props.repositoryId}`,
    async () => (await api.environments(props.repositoryId)).map((entry) => entry.environment.name),
    60_000,
  );
  const [name, setName] = useState('');
  const [value, setValue] = useState('');
  const [limits, setLimits] = useState<string[]>([]);
  const { busy, error, run } = useAction();
  const edit = props.permissions.release;
  const save = (event: FormEvent): void => {
    event.preventDefault();
    run(
      () => api.putSecret(props.repositoryId, name.trim(), value, limits),
      () => {
        setName('');
        setValue('');
        setLimits([]);
        secrets.refresh();
      },
    );
  };
  return (
    <div className="panel" role="group" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>Secrets</h2>
      <p className="muted">
        Environment variables for the jobs that list them under <code>secrets:</code>, masked in
        logs. Values are sealed and never shown again; one limited to environments reaches only
        deployments there.
      </p>
      <ErrorNote error={secrets.error} />
      {secrets.data === undefined ? null : secrets.data.length === 0 ? (
        <p className="empty">No secrets.</p>
      ) : (
        <div className="table-scroll">
          <table className="secrets">
            <thead>
              <tr>
                <th>Name</th>
                <th>Environments</th>
                <th>Updated</th>
                {edit ? <th /> : null}
              </tr>
            </thead>
            <tbody>
              {secrets.data.map((secret) => (
                <tr key={secret.name} data-secret={secret.name}>
                  <td>
                    <code>{secret.name}</code>
                  </td>
                  <td>{secret.environments?.join(', ') ?? 'every job that lists it'}</td>
                  <td title={absolute(secret.updatedAt)}>{when(secret.updatedAt)}</td>
                  {edit ? (
                    <td className="row-actions">
                      <button
                        type="button"
                        disabled={busy}
                        onClick={() =>
                          run(
                            () => api.deleteSecret(props.repositoryId, secret.name),
                            secrets.refresh,
                          )
                        }
                      >
                        Delete
                      </button>
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {edit ? (
        <form className="stacked" onSubmit={save}>
          <h3>Add or replace a secret</h3>
          <Field id={`${id}-name`} label="Name" hint="An environment variable name: NPM_TOKEN">
            <input
              id={`${id}-name`}
              value={name}
              onChange={(e) => setName(e.target.value)}
              required
              pattern="[A-Za-z_][A-Za-z0-9_]*"
              maxLength={128}
              autoComplete="off"
              aria-describedby={`${id}-name-hint`}
            />
          </Field>
          <Field id={`${id}-value`} label="Value">
            <textarea
              id={`${id}-value`}
              value={value}
              onChange={(e) => setValue(e.target.value)}
              rows={2}
              autoComplete="off"
              spellCheck={false}
            />
          </Field>
          {(environments.data ?? []).length === 0 ? null : (
            <fieldset className="checks">
              <legend>Only for deployments to</legend>
              {(environments.data ?? []).map((environment) => (
                <label key={environment} className="check">
                  <input
                    type="checkbox"
                    checked={limits.includes(environment)}
                    onChange={(e) =>
                      setLimits((now) =>
                        e.target.checked
                          ? [...now, environment]
                          : now.filter((other) => other !== environment),
                      )
                    }
                  />
                  {environment}
                </label>
              ))}
            </fieldset>
          )}
          <ErrorNote error={error} />
          <div className="actions">
            <button type="submit" className="primary" disabled={busy || name.trim() === ''}>
              Save secret
            </button>
          </div>
        </form>
      ) : (
        <ErrorNote error={error} />
      )}
    </div>
  );
}

/** Cron schedules (UTC) that start runs of a branch. */
function Schedules(props: { repository: Repository; permissions: Permissions }): ReactNode {
  const id = useId();
  const repositoryId = props.repository.id;
  const schedules = usePoll(`schedules:${repositoryId}`, () => api.schedules(repositoryId), 30_000);
  const [name, setName] = useState('');
  const [cron, setCron] = useState('');
  const [branch, setBranch] = useState('');
  const { busy, error, run } = useAction();
  const edit = props.permissions.write;
  const add = (event: FormEvent): void => {
    event.preventDefault();
    run(
      () =>
        api.createSchedule(repositoryId, {
          name: name.trim(),
          cron: cron.trim(),
          ...(branch.trim() === '' ? {} : { branch: branch.trim() }),
        }),
      () => {
        setName('');
        setCron('');
        setBranch('');
        schedules.refresh();
      },
    );
  };
  return (
    <div className="panel" role="group" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>Schedules</h2>
      <ErrorNote error={schedules.error} />
      {schedules.data === undefined ? null : schedules.data.length === 0 ? (
        <p className="empty">No schedules.</p>
      ) : (
        <div className="table-scroll">
          <table className="schedules">
            <thead>
              <tr>
                <th>Name</th>
                <th>Cron (UTC)</th>
                <th>Branch</th>
                {edit ? <th /> : null}
              </tr>
            </thead>
            <tbody>
              {schedules.data.map((schedule) => (
                <tr key={schedule.id} data-schedule={schedule.name}>
                  <td>{schedule.name}</td>
                  <td>
                    <code>{schedule.cron}</code>
                  </td>
                  <td className="branch">{schedule.branch}</td>
                  {edit ? (
                    <td className="row-actions">
                      <button
                        type="button"
                        disabled={busy}
                        onClick={() =>
                          run(() => api.deleteSchedule(schedule.id), schedules.refresh)
                        }
                      >
                        Remove
                      </button>
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {edit ? (
        <form className="inline-form" onSubmit={add}>
          <Field id={`${id}-name`} label="Name">
            <input
              id={`${id}-name`}
              value={name}
              onChange={(e) => setName(e.target.value)}
              required
              placeholder="nightly"
              autoComplete="off"
            />
          </Field>
          <Field id={`${id}-cron`} label="Cron (UTC)">
            <input
              id={`${id}-cron`}
              value={cron}
              onChange={(e) => setCron(e.target.value)}
              required
              placeholder="0 3 * * *"
              autoComplete="off"
            />
          </Field>
          <Field id={`${id}-branch`} label="Branch">
            <input
              id={`${id}-branch`}
              value={branch}
              onChange={(e) => setBranch(e.target.value)}
              placeholder={props.repository.defaultBranch}
              autoComplete="off"
            />
          </Field>
          <button type="submit" className="primary" disabled={busy}>
            Add schedule
          </button>
        </form>
      ) : null}
      <ErrorNote error={error} />
    </div>
  );
}

function RemoveRepository(props: { repository: Repository }): ReactNode {
  const [asking, setAsking] = useState(false);
  return (
    <div className="panel danger-zone">
      <h2>Remove the repository</h2>
      <p className="muted">Its runs, logs, artifacts, secrets and schedules go with it.</p>
      <div className="actions">
        <button type="button" className="danger" onClick={() => setAsking(true)}>
          Remove {props.repository.fullName}…
        </button>
      </div>
      {asking ? (
        <ConfirmDialog
          title={`Remove ${props.repository.fullName}?`}
          text="This cannot be undone; the forge's webhook stops working."
          label="Remove"
          danger
          call={() => api.deleteRepository(props.repository.id)}
          onClose={() => setAsking(false)}
          onDone={() => navigate('/', { replace: true })}
        />
      ) : null}
    </div>
  );
}
