import { useState, type ReactNode } from 'react';
import { api, type EnvironmentBoardEntry, type RunSummary, type User } from '../api';
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
import { usePoll } from '../use-poll';

interface Promoting {
  run: RunSummary;
  environment: string;
  rollback: boolean;
}

/** A repository's environments in chain order: what runs where, what waits, what may go next. */
export function EnvironmentsPage(props: { id: string; user: User }): ReactNode {
  const { data, error, refresh } = usePoll(
    `environments:${props.id}`,
    () => api.environments(props.id),
    3_000,
  );
  const { release } = usePermissions(props.user, props.id);
  const [promoting, setPromoting] = useState<Promoting>();

  return (
    <section>
      <p className="crumbs">
        <Link to="/">Repositories</Link> / <RepositoryLink id={props.id} /> /
      </p>
      <h1>Environments</h1>
      <ErrorNote error={error} />
      {data === undefined ? null : data.length === 0 ? (
        <p className="empty">
          No environments yet: an admin defines them (<code>staging</code>, then{' '}
          <code>production</code>…) through the API.
        </p>
      ) : (
        <div className="environments">
          {data.map((entry) => (
            <EnvironmentColumn
              key={entry.environment.id}
              entry={entry}
              user={props.user}
              release={release}
              onPromote={setPromoting}
              onChange={refresh}
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
    </section>
  );
}

function EnvironmentColumn(props: {
  entry: EnvironmentBoardEntry;
  user: User;
  release: boolean;
  onPromote: (promoting: Promoting) => void;
  onChange: () => void;
}): ReactNode {
  const { environment, current, pending, promotable } = props.entry;
  return (
    <article className="environment" data-environment={environment.name}>
      <header className="environment-head">
        <h2>{environment.name}</h2>
        <Link to={environmentUrl(environment.repositoryId, environment.name)}>History</Link>
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
