/** What the release pages share: a promotion as a card, its approvals, the promote dialog. */
import { Sha } from './forge-link';
import { useId, useState, type FormEvent, type ReactNode } from 'react';
import {
  api,
  OPEN_PROMOTION_STATES,
  type Environment,
  type Promotion,
  type PromotionArtifact,
  type User,
} from './api';
import { absolute, bytes, firstLine, shortDigest, shortSha, until, when } from './format';
import { ConfirmDialog, DialogActions, useModal } from './forms';
import { Link } from './router';
import { ErrorNote, StateBadge } from './state-badge';

// Pages that show promotions elsewhere (the header's approvals count) hear of a change at once.
const changeListeners = new Set<() => void>();

export function onPromotionChange(listener: () => void): () => void {
  changeListeners.add(listener);
  return () => changeListeners.delete(listener);
}

function promotionChanged(): void {
  changeListeners.forEach((listener) => listener());
}

export const environmentsUrl = (repositoryId: string): string =>
  `/repositories/${repositoryId}/environments`;

export const environmentUrl = (repositoryId: string, environment: string): string =>
  `${environmentsUrl(repositoryId)}/${encodeURIComponent(environment)}`;

/** `after staging · 2 approvals needed · branches main, release/*`: the rules of an environment. */
export function policy(environment: Environment): string {
  const { previous, requiredApprovals, allowedBranches, approvalTimeoutMinutes } = environment;
  const timeout =
    approvalTimeoutMinutes % 60 === 0
      ? `${approvalTimeoutMinutes / 60} h`
      : `${approvalTimeoutMinutes} min`;
  return [
    previous === undefined ? 'first in the chain' : `after ${previous}`,
    requiredApprovals === 0
      ? 'no approval needed'
      : `${requiredApprovals} approval${requiredApprovals === 1 ? '' : 's'} needed, within ${timeout}`,
    allowedBranches === undefined ? 'any branch' : `branches ${allowedBranches.join(', ')}`,
  ].join(' · ');
}

export function RollbackMark(): ReactNode {
  return (
    <span className="rollback" title="An older run than the one deployed: a rollback">
      rollback
    </span>
  );
}

/** `1/2 approvals: bob`, and who rejected; then each decision's comment, in words. */
export function Approvals(props: { promotion: Promotion }): ReactNode {
  const { approvals, requiredApprovals } = props.promotion;
  const approved = approvals.filter((a) => a.decision === 'approve');
  const rejected = approvals.filter((a) => a.decision === 'reject');
  if (requiredApprovals === 0 && approvals.length === 0) {
    return <span className="approvals muted">no approval needed</span>;
  }
  const names = (decisions: typeof approvals): ReactNode =>
    decisions.map((d, i) => (
      <span key={d.user} title={absolute(d.at)}>
        {i === 0 ? '' : ', '}
        {d.user}
      </span>
    ));
  return (
    <>
      <span className="approvals" data-approvals={`${approved.length}/${requiredApprovals}`}>
        {approved.length}/{requiredApprovals} approvals
        {approved.length === 0 ? null : <>: {names(approved)}</>}
        {rejected.length === 0 ? null : <> · rejected by {names(rejected)}</>}
      </span>
      <DecisionComments decisions={approvals} />
    </>
  );
}

/** What the approvers and rejecters said, each under their name. */
function DecisionComments(props: { decisions: Promotion['approvals'] }): ReactNode {
  const said = props.decisions.filter((d) => d.comment !== undefined && d.comment !== '');
  if (said.length === 0) return null;
  return (
    <ul className="decision-comments">
      {said.map((d) => (
        <li key={d.user} data-decision={d.decision} data-user={d.user}>
          {d.user} ({d.decision === 'approve' ? 'approved' : 'rejected'}): “{d.comment}”
        </li>
      ))}
    </ul>
  );
}

/** The promoted run's artifacts: what exactly goes out, by digest. */
export function Digests(props: { artifacts: PromotionArtifact[] }): ReactNode {
  if (props.artifacts.length === 0) return null;
  return (
    <ul className="digests">
      {props.artifacts.map((artifact) => (
        <li
          key={`${artifact.job}/${artifact.name}`}
          title={`${artifact.job}: ${artifact.name}, ${bytes(artifact.size)}, sha256:${artifact.sha256}`}
        >
          {artifact.name} <code className="sha">{shortDigest(artifact.sha256)}</code>
        </li>
      ))}
    </ul>
  );
}

/** A promotion as a card: the run, who asked and when, where it stands. */
export function PromotionCard(props: { promotion: Promotion; children?: ReactNode }): ReactNode {
  const { promotion } = props;
  const { run, deployRun } = promotion;
  return (
    <div
      className="promotion"
      data-promotion={promotion.id}
      data-state={promotion.state}
      data-run={run.number}
    >
      <div className="promotion-head">
        <Link to={`/runs/${run.id}`}>#{run.number}</Link>
        <Sha sha={run.sha} links={undefined} />
        {run.branch === undefined ? null : <span className="branch">{run.branch}</span>}
        {promotion.rollback ? <RollbackMark /> : null}
        <StateBadge state={promotion.state} />
      </div>
      {run.message === undefined ? null : <div className="message">{firstLine(run.message)}</div>}
      <div className="muted">
        promoted by {promotion.requestedBy}{' '}
        <span title={absolute(promotion.requestedAt)}>{when(promotion.requestedAt)}</span>
        {promotion.state === 'deployed' && promotion.finishedAt !== undefined ? (
          <>
            {' · deployed '}
            <span title={absolute(promotion.finishedAt)}>{when(promotion.finishedAt)}</span>
          </>
        ) : null}
        {deployRun === undefined ? null : (
          <>
            {' · '}
            <Link to={`/runs/${deployRun.id}`}>deploy run #{deployRun.number}</Link>
          </>
        )}
      </div>
      {promotion.comment === undefined ? null : (
        <div className="comment">“{promotion.comment}”</div>
      )}
      <div>
        <Approvals promotion={promotion} />
        {promotion.state === 'awaiting-approval' && promotion.expiresAt !== undefined ? (
          <span className="muted" title={absolute(promotion.expiresAt)}>
            {' · '}expires {until(promotion.expiresAt)}
          </span>
        ) : null}
      </div>
      {promotion.statusMessage === undefined ? null : (
        <div className="status">{promotion.statusMessage}</div>
      )}
      <Digests artifacts={promotion.artifacts} />
      {props.children}
    </div>
  );
}

/**
 * Approve or reject (with an optional comment) and cancel, as far as they apply to the promotion
 * and the user; the caller shows it only to release managers and admins.
 */
export function PromotionActions(props: {
  promotion: Promotion;
  user: User;
  onChange: () => void;
  /** Approve and reject only, as in the approvals inbox. */
  decisionsOnly?: boolean;
}): ReactNode {
  const { promotion, user } = props;
  const [comment, setComment] = useState('');
  const [busy, setBusy] = useState<'approve' | 'reject' | 'cancel'>();
  const [error, setError] = useState<string>();
  const [confirming, setConfirming] = useState(false);

  const mayDecide =
    promotion.state === 'awaiting-approval' &&
    promotion.requestedBy !== user.username &&
    !promotion.approvals.some((a) => a.user === user.username);
  const mayCancel = props.decisionsOnly !== true && OPEN_PROMOTION_STATES.includes(promotion.state);
  if (!mayDecide && !mayCancel && error === undefined) return null;

  const act = (action: 'approve' | 'reject' | 'cancel'): void => {
    setBusy(action);
    setError(undefined);
    const call =
      action === 'approve'
        ? api.approve(promotion.id, comment)
        : action === 'reject'
          ? api.reject(promotion.id, comment)
          : api.cancelPromotion(promotion.id);
    call.then(
      () => {
        setBusy(undefined);
        setComment('');
        promotionChanged();
        props.onChange();
      },
      (e: unknown) => {
        setBusy(undefined);
        setError(e instanceof Error ? e.message : String(e));
      },
    );
  };
  const label = (action: typeof busy, text: string): string =>
    busy === action ? `${text}…` : text;
  // The approval that completes the required ones deploys at once: that one click asks first.
  const approved = promotion.approvals.filter((a) => a.decision === 'approve').length;
  const deploysNow = approved + 1 >= promotion.requiredApprovals;
  const { run } = promotion;

  return (
    <div className="promotion-actions">
      {mayDecide ? (
        <input
          aria-label="Comment"
          placeholder="Comment (optional)"
          value={comment}
          maxLength={1000}
          onChange={(e) => setComment(e.target.value)}
        />
      ) : null}
      <div className="actions">
        {mayDecide ? (
          <>
            <button
              type="button"
              className="primary"
              disabled={busy !== undefined}
              onClick={() => (deploysNow ? setConfirming(true) : act('approve'))}
            >
              {label('approve', 'Approve')}
            </button>
            <button
              type="button"
              className="danger"
              disabled={busy !== undefined}
              onClick={() => act('reject')}
            >
              {label('reject', 'Reject')}
            </button>
          </>
        ) : null}
        {mayCancel ? (
          <button type="button" disabled={busy !== undefined} onClick={() => act('cancel')}>
            {label('cancel', 'Cancel')}
          </button>
        ) : null}
      </div>
      <ErrorNote error={error} />
      {confirming ? (
        <ConfirmDialog
          title={`Deploy run #${run.number} to ${promotion.environment}?`}
          text={
            `Yours is the last approval needed: ${shortSha(run.sha)} ` +
            `${firstLine(run.message) || ''} deploys to ${promotion.environment} now.`
          }
          label="Approve and deploy"
          call={() => api.approve(promotion.id, comment)}
          onClose={() => setConfirming(false)}
          onDone={() => {
            setConfirming(false);
            setComment('');
            promotionChanged();
            props.onChange();
          }}
        />
      ) : null}
    </div>
  );
}

/** Who asked for a promotion, when, and what they said. */
export function RequestedBy(props: { promotion: Promotion }): ReactNode {
  const { promotion } = props;
  return (
    <>
      {promotion.requestedBy}
      <div className="muted" title={absolute(promotion.requestedAt)}>
        {when(promotion.requestedAt)}
      </div>
      {promotion.comment === undefined ? null : (
        <div className="comment">“{promotion.comment}”</div>
      )}
    </>
  );
}

/** An environment offered in the promote dialog; `refusal`: why the run may not go there now. */
export interface PromoteChoice {
  name: string;
  refusal?: string;
}

/**
 * Asks before a run is promoted (a deploy, maybe to production), with an optional comment; a
 * refusal stays in the dialog with the server's reason.
 */
export function PromoteDialog(props: {
  run: { id: string; number: number };
  /**
   * The environments to choose from, each a name or a name with the reason the run may not go
   * there now (offered disabled, the reason beside it); the first allowed one is chosen at first.
   */
  environments: readonly (string | PromoteChoice)[];
  rollback?: boolean;
  onClose: () => void;
  onPromoted: (promotion: Promotion) => void;
}): ReactNode {
  const ref = useModal();
  const titleId = useId();
  const choices = props.environments.map((choice) =>
    typeof choice === 'string' ? { name: choice } : choice,
  );
  const allowed = choices.filter((choice) => choice.refusal === undefined);
  const refused = choices.filter((choice) => choice.refusal !== undefined);
  const [environment, setEnvironment] = useState(allowed[0]?.name ?? '');
  const [comment, setComment] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();

  const confirm = (event: FormEvent): void => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    api.promote(props.run.id, environment, comment).then(
      (promotion) => {
        setBusy(false);
        promotionChanged();
        props.onPromoted(promotion);
      },
      (e: unknown) => {
        setBusy(false);
        setError(e instanceof Error ? e.message : String(e));
      },
    );
  };

  const rollback = props.rollback === true;
  return (
    <dialog
      ref={ref}
      className="confirm"
      aria-labelledby={titleId}
      data-promote-run={props.run.number}
      onCancel={(event) => {
        // Escape: closed by React, not behind its back.
        event.preventDefault();
        if (!busy) props.onClose();
      }}
    >
      <form onSubmit={confirm}>
        <h2 id={titleId}>
          {rollback ? 'Roll back' : 'Promote'} run #{props.run.number}
          {choices.length === 1 && allowed.length === 1 ? ` to ${environment}?` : '?'}
        </h2>
        {rollback ? (
          <p className="muted">
            {environment} runs a newer build now: this deploys run #{props.run.number} there again.
          </p>
        ) : null}
        {choices.length > 1 && allowed.length > 0 ? (
          <label>
            Environment
            <select value={environment} onChange={(e) => setEnvironment(e.target.value)}>
              {[...allowed, ...refused].map(({ name, refusal }) => (
                <option key={name} value={name} disabled={refusal !== undefined}>
                  {refusal === undefined ? name : `${name} (not yet)`}
                </option>
              ))}
            </select>
          </label>
        ) : null}
        {allowed.length === 0 ? (
          <p className="muted">Run #{props.run.number} may not be promoted anywhere now.</p>
        ) : null}
        {refused.length === 0 ? null : (
          <ul className="refusals" aria-label="Not offered">
            {refused.map(({ name, refusal }) => (
              <li key={name} data-refused={name}>
                <strong>{name}</strong>: {refusal}
              </li>
            ))}
          </ul>
        )}
        <label>
          Comment (optional)
          <textarea
            value={comment}
            maxLength={1000}
            rows={2}
            onChange={(e) => setComment(e.target.value)}
          />
        </label>
        <ErrorNote error={error} />
        <DialogActions
          label="Confirm"
          busy={busy}
          disabled={environment === ''}
          onBack={props.onClose}
        />
      </form>
    </dialog>
  );
}
