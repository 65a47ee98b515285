import { Sha } from '../forge-link';
import type { ReactNode } from 'react';
import { api, type User } from '../api';
import { absolute, firstLine, until } from '../format';
import {
  Approvals,
  Digests,
  environmentUrl,
  PromotionActions,
  RequestedBy,
  RollbackMark,
} from '../promotions';
import { Link } from '../router';
import { ErrorNote } from '../state-badge';
import { useLive } from '../use-live';

/** Promotions that wait for the user's decision, oldest first, to approve or reject in place. */
export function ApprovalsPage(props: { user: User }): ReactNode {
  const { data, error, refresh } = useLive('approvals', api.approvals, ['approvals']);
  return (
    <section>
      <h1>Approvals</h1>
      <p className="muted">
        Promotions on repositories where you are a release manager, requested by someone else, that
        wait for your decision.
      </p>
      <ErrorNote error={error} />
      {data === undefined ? null : data.length === 0 ? (
        <p className="empty">Nothing waits for your approval.</p>
      ) : (
        <table className="approvals-inbox">
          <thead>
            <tr>
              <th>Repository</th>
              <th>Environment</th>
              <th>Run</th>
              <th>Commit</th>
              <th>Requested</th>
              <th>Approvals</th>
              <th>Expires</th>
              <th>Decision</th>
            </tr>
          </thead>
          <tbody>
            {data.map((promotion) => (
              <tr
                key={promotion.id}
                data-promotion={promotion.id}
                data-environment={promotion.environment}
                data-run={promotion.run.number}
              >
                <td>
                  <Link to={`/repositories/${promotion.repositoryId}`}>
                    {promotion.repositoryFullName}
                  </Link>
                </td>
                <td>
                  <Link to={environmentUrl(promotion.repositoryId, promotion.environment)}>
                    {promotion.environment}
                  </Link>
                  {promotion.rollback ? <RollbackMark /> : null}
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
                  <Digests artifacts={promotion.artifacts} />
                </td>
                <td>
                  <RequestedBy promotion={promotion} />
                </td>
                <td className="wrap">
                  <Approvals promotion={promotion} />
                </td>
                <td title={absolute(promotion.expiresAt)}>{until(promotion.expiresAt)}</td>
                <td>
                  <PromotionActions
                    promotion={promotion}
                    user={props.user}
                    onChange={refresh}
                    decisionsOnly
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
