import { useState, type ReactNode } from 'react';
import {
  api,
  type Environment,
  type EnvironmentBoardEntry,
  type RunSummary,
  type User,
} from '../api';
import { DeleteEnvironmentDialog, EnvironmentDialog } from '../environment-dialogs';
import { absolute, firstLine, shortSha, when } from '../format';
import {
  environmentUrl,
  policy,
  PromoteDialog,
  PromotionActions,
  PromotionCard,
  RollbackMark,
} from '../promotions';
import { RepositoryLink } from '../repository-link';
import { Link } from '../router';
import { ErrorNote } from '../state-badge';
import { usePermissions } from '../use-permissions';
import { useLive } from '../use-live';

interface Promoting {
  run: RunSummary;
  environment: string;
  rollback: boolean;
}

/** An administrator's change under way: which dialog is open. */
type Changing =
  | { kind: 'add' }
  | { kind: 'edit'; environment: Environment }
  | { kind: 'delete'; environment: Environment };

/** A repository's environments in chain order: what runs where, what waits, what may go next. */
export function EnvironmentsPage(props: { id: string; user: User }): ReactNode {
  const { data, error, refresh } = useLive(
    `environments:${props.id}`,
    () => api.environments(props.id),
    [`environments:${props.id}`],
  );
  const { release } = usePermissions(props.user, props.id);
  const [promoting, setPromoting] = useState<Promoting>();
  const [changing, setChanging] = useState<Changing>();
  // Only administrators define environments; the server refuses anyone else anyway.
  const admin = props.user.isAdmin;
  const changed = (): void => {
    setChanging(undefined);
    refresh();
  };

  const addButton = (
    <button type="button" className="primary" onClick={() => setChanging({ kind: 'add' })}>
      Add environment
    </button>
  );

  return (
    <section>
      <p className="crumbs">
        <Link to="/">Repositories</Link> / <RepositoryLink id={props.id} /> /
      </p>
      <div className="run-head">
        <h1>Environments</h1>
        {/* An empty board offers it in its empty state instead. */}
        {admin && data !== undefined && data.length > 0 ? (
          <div className="actions">{addButton}</div>
        ) : null}
      </div>
      <ErrorNote error={error} />
      {data === undefined ? null : data.length === 0 ? (
        admin ? (
          <div className="empty-state">
            <p className="empty">
              No environments yet: add the first (<code>staging</code>, then <code>production</code>{' '}
              after it…).
            </p>
            {addButton}
          </div>
        ) : (
          <p className="empty">
            No environments yet: an admin defines them (<code>staging</code>, then{' '}
            <code>production</code>…).
          </p>
        )
      ) : (
        <div className="environments">
          {data.map((entry) => (
            <EnvironmentColumn
              key={entry.environment.id}
              entry={entry}
              user={props.user}
              release={release}
              admin={admin}
              onPromote={setPromoting}
              onChange={refresh}
              onEdit={(environment) => setChanging({ kind: 'edit', environment })}
              onDelete={(environment) => setChanging({ kind: 'delete', environment })}
            />
          ))}
        </div>
      )}
      {promoting === undefined ? null : (
        <PromoteDialog
          run={promoting.run}
          environments={[promoting.environment]}
          rollback={promoting.rollback}
          onClose={() => setPromoting(undefined)}
          onPromoted={() => {
            setPromoting(undefined);
            refresh();
          }}
        />
      )}
      {changing === undefined || data === undefined ? null : changing.kind === 'delete' ? (
        <DeleteEnvironmentDialog
          environment={changing.environment}
          onClose={() => setChanging(undefined)}
          onDeleted={changed}
        />
      ) : (
        <EnvironmentDialog
          repositoryId={props.id}
          {...(changing.kind === 'edit' ? { environment: changing.environment } : {})}
          environments={data.map((entry) => entry.environment)}
          onClose={() => setChanging(undefined)}
          onSaved={changed}
        />
      )}
    </section>
  );
}

function EnvironmentColumn(props: {
  entry: EnvironmentBoardEntry;
  user: User;
  release: boolean;
  /** Offer Edit and Delete. */
  admin: boolean;
  onPromote: (promoting: Promoting) => void;
  onChange: () => void;
  onEdit: (environment: Environment) => void;
  onDelete: (environment: Environment) => void;
}): ReactNode {
  const { environment, current, pending, promotable } = props.entry;
  return (
    <article className="environment" data-environment={environment.name}>
      <header className="environment-head">
        <h2>{environment.name}</h2>
        <div className="actions">
          <Link to={environmentUrl(environment.repositoryId, environment.name)}>History</Link>
          {props.admin ? (
            <>
              <button type="button" onClick={() => props.onEdit(environment)}>
                Edit
              </button>
              <button type="button" onClick={() => props.onDelete(environment)}>
                Delete
              </button>
            </>
          ) : null}
        </div>
      </header>
      <p className="muted">{policy(environment)}</p>
      <h3>Deployed now</h3>
      {current === undefined ? (
        <p className="empty">Nothing deployed yet.</p>
      ) : (
        <div data-current>
          <PromotionCard promotion={current} />
        </div>
      )}
      <h3>Pending</h3>
      {pending.length === 0 ? (
        <p className="empty">No promotion waits.</p>
      ) : (
        <ul className="plain" data-pending>
          {pending.map((promotion) => (
            <li key={promotion.id}>
              <PromotionCard promotion={promotion}>
                {props.release ? (
                  <PromotionActions
                    promotion={promotion}
                    user={props.user}
                    onChange={props.onChange}
                  />
                ) : null}
              </PromotionCard>
            </li>
          ))}
        </ul>
      )}
      <h3>Promote next</h3>
      {promotable.length === 0 ? (
        <p className="empty">No run can be promoted here now.</p>
      ) : (
        <ul className="plain" data-promotable>
          {promotable.map((run) => {
            // The board lists newer runs only; an older one would put an older build back.
            const rollback = current !== undefined && run.number < current.run.number;
            return (
              <li key={run.id} className="promotable" data-run={run.number}>
                <div>
                  <div className="promotion-head">
                    <Link to={`/runs/${run.id}`}>#{run.number}</Link>
                    <code className="sha" title={run.sha}>
                      {shortSha(run.sha)}
                    </code>
                    {run.branch === undefined ? null : <span className="branch">{run.branch}</span>}
                    {rollback ? <RollbackMark /> : null}
                  </div>
                  {run.message === undefined ? null : (
                    <div className="message">{firstLine(run.message)}</div>
                  )}
                  <div className="muted">
                    {run.author ?? ''}
                    {run.author !== undefined && run.finishedAt !== undefined ? ' · ' : ''}
                    <span title={absolute(run.finishedAt)}>{when(run.finishedAt)}</span>
                  </div>
                </div>
                {props.release ? (
                  <button
                    type="button"
                    className="primary"
                    onClick={() =>
                      props.onPromote({ run, environment: environment.name, rollback })
                    }
                  >
                    Promote
                  </button>
                ) : null}
              </li>
            );
          })}
        </ul>
      )}
    </article>
  );
}
