import { useId, useState, type FormEvent, type ReactNode } from 'react';
import {
  api,
  RUN_EVENTS,
  RUN_STATES,
  type Repository,
  type Run,
  type RunFilter,
  type User,
} from '../api';
import { duration, firstLine, when, absolute } from '../format';
import { DialogActions, Field, useAction, useModal } from '../forms';
import { environmentsUrl } from '../promotions';
import { Link, navigate } from '../router';
import { ErrorNote, StateBadge } from '../state-badge';
import { usePermissions } from '../use-permissions';
import { RefName, Sha } from '../forge-link';
import { forgeLinks, FORGE_NAMES, type ForgeLinks } from '../forge-links';
import { useLivePages } from '../use-pages';
import { usePoll } from '../use-poll';
import { useTitle } from '../use-title';

/** Runs per page of the run list: the newest page is live, older ones load on demand. */
const RUN_PAGE = 25;

/** A repository's runs, newest first, live: new runs and state changes show up as they happen. */
export function RepositoryPage(props: { id: string; user: User }): ReactNode {
  const repository = usePoll(`repository:${props.id}`, () => api.repository(props.id));
  const [filter, setFilter] = useState<RunFilter>({});
  const runs = useLivePages(
    `runs:${props.id}:${JSON.stringify(filter)}`,
    async (before) => {
      const page = await api.runs(props.id, filter, {
        limit: RUN_PAGE,
        ...(before === undefined ? {} : { before: Number(before) }),
      });
      return page.next === undefined
        ? { items: page.runs }
        : { items: page.runs, next: String(page.next) };
    },
    [`repository:${props.id}`],
  );
  const filtered = Object.values(filter).some((value) => value !== undefined);
  const permissions = usePermissions(props.user, props.id);
  const [starting, setStarting] = useState(false);
  useTitle(repository.data?.fullName ?? 'Repository');
  const links = repository.data === undefined ? undefined : forgeLinks(repository.data);
  return (
    <section>
      <p className="crumbs">
        <Link to="/">Repositories</Link> /
      </p>
      <div className="run-head">
        <h1>
          {repository.data?.fullName ?? 'Repository'}
          {links === undefined ? null : (
            <a className="forge-link" href={links.repository}>
              on {FORGE_NAMES[repository.data?.forge ?? 'github']}
            </a>
          )}
        </h1>
        <div className="actions">
          {permissions.write && repository.data !== undefined ? (
            <button type="button" className="primary" onClick={() => setStarting(true)}>
              Run pipeline
            </button>
          ) : null}
          <Link to={environmentsUrl(props.id)} className="button">
            Environments
          </Link>
          <Link to={`/repositories/${props.id}/settings`} className="button">
            Settings
          </Link>
        </div>
      </div>
      {starting && repository.data !== undefined ? (
        <StartRunDialog repository={repository.data} onClose={() => setStarting(false)} />
      ) : null}
      <ErrorNote error={repository.error ?? runs.error} />
      <RunFilters filter={filter} onChange={setFilter} />
      {runs.items === undefined ? null : runs.items.length === 0 ? (
        <p className="empty">
          {filtered
            ? 'No runs match these filters.'
            : 'No runs yet: push to the repository or run its pipeline.'}
        </p>
      ) : (
        <div className="table-scroll">
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
              {runs.items.map((run) => (
                <RunRow key={run.id} run={run} links={links} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {runs.hasOlder ? (
        <p>
          <button type="button" disabled={runs.loadingOlder} onClick={runs.older}>
            {runs.loadingOlder ? 'Older runs…' : 'Older runs'}
          </button>
        </p>
      ) : null}
    </section>
  );
}

/** Branch, state and event filters over the run list; the server filters, so every run counts. */
function RunFilters(props: {
  filter: RunFilter;
  onChange: (filter: RunFilter) => void;
}): ReactNode {
  const id = useId();
  const { filter } = props;
  const [branch, setBranch] = useState(filter.branch ?? '');
  const set = (change: Partial<RunFilter>): void => {
    const next: RunFilter = { ...filter, ...change };
    props.onChange(
      Object.fromEntries(
        Object.entries(next).filter(([, value]) => value !== undefined && value !== ''),
      ),
    );
  };
  return (
    <form
      className="filters run-filters"
      aria-label="Filter runs"
      onSubmit={(event) => {
        event.preventDefault();
        set({ branch: branch.trim() === '' ? undefined : branch.trim() });
      }}
    >
      <Field id={`${id}-branch`} label="Branch">
        <input
          id={`${id}-branch`}
          value={branch}
          onChange={(e) => setBranch(e.target.value)}
          onBlur={() => set({ branch: branch.trim() === '' ? undefined : branch.trim() })}
          placeholder="any"
          autoComplete="off"
        />
      </Field>
      <Field id={`${id}-state`} label="State">
        <select
          id={`${id}-state`}
          value={filter.state ?? ''}
          onChange={(e) =>
            set({
              state: e.target.value === '' ? undefined : (e.target.value as RunFilter['state']),
            })
          }
        >
          <option value="">any</option>
          {RUN_STATES.map((state) => (
            <option key={state} value={state}>
              {state}
            </option>
          ))}
        </select>
      </Field>
      <Field id={`${id}-event`} label="Event">
        <select
          id={`${id}-event`}
          value={filter.event ?? ''}
          onChange={(e) =>
            set({
              event: e.target.value === '' ? undefined : (e.target.value as RunFilter['event']),
            })
          }
        >
          <option value="">any</option>
          {RUN_EVENTS.map((event) => (
            <option key={event} value={event}>
              {event}
            </option>
          ))}
        </select>
      </Field>
    </form>
  );
}

/**
 * "Run pipeline": a run of a branch's head, or of one of its commits, as a push would start it;
 * the new run's page opens.
 */
function StartRunDialog(props: { repository: Repository; onClose: () => void }): ReactNode {
  const ref = useModal();
  const id = useId();
  const [branch, setBranch] = useState(props.repository.defaultBranch);
  const [sha, setSha] = useState('');
  const { busy, error, run } = useAction();
  const start = (event: FormEvent): void => {
    event.preventDefault();
    const commit = sha.trim();
    run(
      () => api.startRun(props.repository.id, branch.trim(), commit === '' ? undefined : commit),
      (started) => navigate(`/runs/${started.id}`),
    );
  };
  return (
    <dialog
      ref={ref}
      className="confirm"
      aria-labelledby={`${id}-title`}
      onCancel={(event) => {
        event.preventDefault();
        if (!busy) props.onClose();
      }}
    >
      <form onSubmit={start}>
        <h2 id={`${id}-title`}>Run pipeline</h2>
        <p className="muted">Runs the .kiln.yml of the commit, as a push of it would.</p>
        <Field id={`${id}-branch`} label="Branch">
          <input
            id={`${id}-branch`}
            value={branch}
            onChange={(e) => setBranch(e.target.value)}
            required
            autoComplete="off"
          />
        </Field>
        <Field
          id={`${id}-sha`}
          label="Commit"
          hint="Optional: a full commit id; empty: the branch's head"
        >
          <input
            id={`${id}-sha`}
            value={sha}
            onChange={(e) => setSha(e.target.value)}
            pattern="[0-9a-f]{40}([0-9a-f]{24})?"
            autoComplete="off"
            spellCheck={false}
            aria-describedby={`${id}-sha-hint`}
          />
        </Field>
        <ErrorNote error={error} />
        <DialogActions
          label="Run"
          busy={busy}
          disabled={branch.trim() === ''}
          onBack={props.onClose}
        />
      </form>
    </dialog>
  );
}

function RunRow({ run, links }: { run: Run; links: ForgeLinks | undefined }): ReactNode {
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
        <Sha sha={run.sha} links={links} />
      </td>
      <td className="branch">
        <RefName run={run} links={links} />
      </td>
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
