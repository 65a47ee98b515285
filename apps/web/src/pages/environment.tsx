import { Sha } from '../forge-link';
import { useEffect, useState, type ReactNode } from 'react';
import { api, type Promotion, type User } from '../api';
import { firstLine } from '../format';
import {
  Approvals,
  Digests,
  environmentsUrl,
  policy,
  PromoteDialog,
  RequestedBy,
  RollbackMark,
} from '../promotions';
import { RepositoryLink } from '../repository-link';
import { Link } from '../router';
import { ErrorNote, StateBadge } from '../state-badge';
import { useLivePages } from '../use-pages';
import { usePermissions } from '../use-permissions';
import { usePoll } from '../use-poll';

const PAGE_SIZE = 20;

/** Every promotion to one environment, newest first; an earlier deployed run can be put back. */
export function EnvironmentPage(props: { id: string; name: string; user: User }): ReactNode {
  const history = useLivePages(
    `deployments:${props.id}:${props.name}`,
    async (before) => {
      const items = await api.deployments(props.id, props.name, { limit: PAGE_SIZE, before });
      const last = items.at(-1);
      return items.length < PAGE_SIZE || last === undefined ? { items } : { items, next: last.id };
    },
    [`environments:${props.id}`],
  );
  // The board's entry (what runs there, the policy) changes with the same events as the history:
  // reloaded whenever a row of the history changes, so that the page keeps one event stream.
  const board = usePoll(`environments:${props.id}`, () => api.environments(props.id), 60_000);
  const refreshBoard = board.refresh;
  const rows = history.items?.map((p) => `${p.id}:${p.state}`).join(',');
  useEffect(() => {
    if (rows !== undefined) refreshBoard();
  }, [rows, refreshBoard]);
  const entry = board.data?.find((e) => e.environment.name === props.name);
  const { release } = usePermissions(props.user, props.id);
  const [rollingBack, setRollingBack] = useState<Promotion>();

  // What runs there now: the board knows; before it answers, the newest deployed row.
  const current = entry?.current ?? history.items?.find((p) => p.state === 'deployed');

  return (
    <section>
      <p className="crumbs">
        <Link to="/">Repositories</Link> / <RepositoryLink id={props.id} /> /{' '}
        <Link to={environmentsUrl(props.id)}>environments</Link> /
      </p>
      <h1>{props.name}</h1>
      {entry === undefined ? null : <p className="muted">{policy(entry.environment)}</p>}
      <ErrorNote error={history.error} />
      {history.items === undefined ? null : history.items.length === 0 ? (
        <p className="empty">Nothing has been promoted to {props.name} yet.</p>
      ) : (
        <div className="table-scroll">
          <table className="deployments">
            <thead>
              <tr>
                <th>State</th>
                <th>Run</th>
                <th>Commit</th>
                <th>Deploy run</th>
                <th>Requested</th>
                <th>Approvals</th>
                <th>Artifacts</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {history.items.map((promotion) => {
                const isCurrent = promotion.id === current?.id;
                const mayRollBack =
                  release &&
                  promotion.state === 'deployed' &&
                  current !== undefined &&
                  promotion.run.number < current.run.number;
                return (
                  <tr
                    key={promotion.id}
                    data-promotion={promotion.id}
                    data-state={promotion.state}
                    data-run={promotion.run.number}
                    {...(isCurrent ? { 'data-current': '' } : {})}
                  >
                    <td>
                      <StateBadge state={promotion.state} />
                      {isCurrent ? <span className="current-mark">now</span> : null}
                      {promotion.rollback ? <RollbackMark /> : null}
                      {promotion.statusMessage === undefined ? null : (
                        <div className="status">{promotion.statusMessage}</div>
                      )}
                    </td>
                    <td>
                      <Link to={`/runs/${promotion.run.id}`}>#{promotion.run.number}</Link>
                    </td>
                    <td className="commit">
                      <div className="message">
                        {firstLine(promotion.run.message) || '(no message)'}
                      </div>
                      <Sha sha={promotion.run.sha} links={undefined} />{' '}
                      <span className="branch">{promotion.run.branch ?? ''}</span>
                    </td>
                    <td>
                      {promotion.deployRun === undefined ? null : (
                        <Link to={`/runs/${promotion.deployRun.id}`}>
                          #{promotion.deployRun.number}
                        </Link>
                      )}
                    </td>
                    <td>
                      <RequestedBy promotion={promotion} />
                    </td>
                    <td className="wrap">
                      <Approvals promotion={promotion} />
                    </td>
                    <td>
                      <Digests artifacts={promotion.artifacts} />
                    </td>
                    <td className="row-actions">
                      {mayRollBack ? (
                        <button type="button" onClick={() => setRollingBack(promotion)}>
                          Roll back
                        </button>
                      ) : null}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {history.hasOlder ? (
        <p>
          <button type="button" disabled={history.loadingOlder} onClick={history.older}>
            {history.loadingOlder ? 'Older…' : 'Older'}
          </button>
        </p>
      ) : null}
      {rollingBack === undefined ? null : (
        <PromoteDialog
          run={rollingBack.run}
          environments={[props.name]}
          rollback
          onClose={() => setRollingBack(undefined)}
          onPromoted={() => {
            setRollingBack(undefined);
            history.refresh();
            board.refresh();
          }}
        />
      )}
    </section>
  );
}
