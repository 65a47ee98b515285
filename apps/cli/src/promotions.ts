import type { Promotion, PromotionDecision, PromotionState } from './api-types';
import type { CommandContext } from './context';
import { formatAge, formatDuration, shortSha } from './output';

/** Whether a promotion is over: nothing about it changes any more. */
export function isPromotionEnded(state: PromotionState): boolean {
  switch (state) {
    case 'deployed':
    case 'failed':
    case 'canceled':
    case 'rejected':
    case 'expired':
      return true;
    case 'awaiting-approval':
    case 'queued':
    case 'deploying':
      return false;
  }
}

/** How many distinct release managers approved (a rejection is not one). */
export function approvalsGiven(promotion: Promotion): number {
  return promotion.approvals.filter((a) => a.decision === 'approve').length;
}

/** `1/2`: approvals given out of those required. */
export function approvalsOf(promotion: Promotion): string {
  return `${approvalsGiven(promotion)}/${promotion.requiredApprovals}`;
}

/** What a promotion that has not ended waits for, in words; undefined once it has ended. */
export function waitingFor(promotion: Promotion, now: Date): string | undefined {
  switch (promotion.state) {
    case 'awaiting-approval': {
      const missing = Math.max(0, promotion.requiredApprovals - approvalsGiven(promotion));
      const what =
        promotion.statusMessage ??
        `${missing} more approval${missing === 1 ? '' : 's'} from a release manager`;
      if (promotion.expiresAt === undefined) return what;
      const left = new Date(promotion.expiresAt).getTime() - now.getTime();
      return left > 0 ? `${what} (expires in ${formatDuration(left)})` : `${what} (expiring)`;
    }
    case 'queued':
      return promotion.statusMessage ?? `the ${promotion.environment} deploy lock`;
    case 'deploying':
      if (promotion.statusMessage !== undefined) return promotion.statusMessage;
      return promotion.deployRun === undefined
        ? 'its deploy run to start'
        : `deploy run #${promotion.deployRun.number} (${promotion.deployRun.state})`;
    case 'deployed':
    case 'failed':
    case 'canceled':
    case 'rejected':
    case 'expired':
      return undefined;
  }
}

/** `run #3 to production`, with ` (rollback)` when it takes the environment back. */
export function promotionTitle(promotion: Promotion): string {
  const rollback = promotion.rollback ? ' (rollback)' : '';
  return `run #${promotion.run.number} to ${promotion.environment}${rollback}`;
}

/** A promotion for people: what, where, its state, approvals k/N, and what it waits for. */
export function printPromotion(ctx: CommandContext, promotion: Promotion): void {
  const now = ctx.io.now();
  const { run } = promotion;
  ctx.out(
    `promotion of ${promotion.repositoryFullName} ${promotionTitle(promotion)}: ` +
      `${ctx.painter.state(promotion.state)}\n`,
  );
  const fields: [string, string][] = [['id', promotion.id]];
  const commit = [run.branch, shortSha(run.sha)].filter((part) => part !== undefined).join(' ');
  fields.push([
    'run',
    `#${run.number} ${commit}${run.message === undefined ? '' : `  ${firstLine(run.message)}`}`,
  ]);
  fields.push(['approvals', approvalsLine(promotion)]);
  const waits = waitingFor(promotion, now);
  if (waits !== undefined) fields.push(['waiting for', waits]);
  if (promotion.deployRun !== undefined && promotion.state !== 'deploying') {
    fields.push(['deploy run', `#${promotion.deployRun.number} ${promotion.deployRun.state}`]);
  }
  if (isPromotionEnded(promotion.state) && promotion.statusMessage !== undefined) {
    fields.push(['why', promotion.statusMessage]);
  }
  const comment = promotion.comment === undefined ? '' : `: ${promotion.comment}`;
  fields.push([
    'requested',
    `by ${promotion.requestedBy} ${formatAge(promotion.requestedAt, now)}${comment}`,
  ]);
  if (promotion.finishedAt !== undefined) {
    fields.push(['ended', formatAge(promotion.finishedAt, now)]);
  }
  const width = Math.max(...fields.map(([label]) => label.length)) + 1;
  for (const [label, value] of fields) ctx.out(`  ${`${label}:`.padEnd(width)}  ${value}\n`);
}

function approvalsLine(promotion: Promotion): string {
  const decisions = promotion.approvals.map(
    (a) =>
      `${a.decision === 'approve' ? 'approved' : 'rejected'} by ${a.user}` +
      (a.comment === undefined ? '' : `: ${a.comment}`),
  );
  const count = approvalsOf(promotion);
  return decisions.length === 0 ? count : `${count} (${decisions.join('; ')})`;
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0] ?? '';
}

/** One thing that changed about a promotion between two looks, as `promote --wait --json` prints it. */
export interface PromotionChange {
  kind: 'promotion';
  promotionId: string;
  /** null: the first look. */
  from: PromotionState | null;
  to: PromotionState;
  approvals: number;
  requiredApprovals: number;
  /** Decisions taken since the previous look. */
  decisions: PromotionDecision[];
  deployRun?: { id: string; number: number; state: string };
  statusMessage?: string;
  at: string;
}

/**
 * What changed from `previous` (undefined: nothing seen yet) to `next`: its state, a new decision,
 * the deploy run starting, or why it waits. Nothing when none of these changed.
 */
export function diffPromotion(
  previous: Promotion | undefined,
  next: Promotion,
  at: Date,
): PromotionChange | undefined {
  const decisions = next.approvals.filter(
    (a) => previous?.approvals.some((b) => b.user === a.user && b.decision === a.decision) !== true,
  );
  if (
    previous !== undefined &&
    previous.state === next.state &&
    decisions.length === 0 &&
    previous.deployRun?.id === next.deployRun?.id &&
    previous.statusMessage === next.statusMessage
  ) {
    return undefined;
  }
  return {
    kind: 'promotion',
    promotionId: next.id,
    from: previous?.state ?? null,
    to: next.state,
    approvals: approvalsGiven(next),
    requiredApprovals: next.requiredApprovals,
    decisions,
    ...(next.deployRun === undefined ? {} : { deployRun: next.deployRun }),
    ...(next.statusMessage === undefined ? {} : { statusMessage: next.statusMessage }),
    at: at.toISOString(),
  };
}

/** A `promote --wait` line's text: the state, approvals k/N while they matter, and why. */
export function describePromotionChange(ctx: CommandContext, change: PromotionChange): string {
  let text = ctx.painter.state(change.to);
  if (change.to === 'awaiting-approval') {
    text += ` ${change.approvals}/${change.requiredApprovals}`;
  }
  const said = change.decisions.map(
    (d) =>
      `${d.user} ${d.decision === 'approve' ? 'approved' : 'rejected'}` +
      (d.comment === undefined ? '' : ` (${d.comment})`),
  );
  if (
    change.to === 'deploying' &&
    change.deployRun !== undefined &&
    change.statusMessage === undefined
  ) {
    said.push(`deploy run #${change.deployRun.number}`);
  }
  if (change.statusMessage !== undefined) said.push(change.statusMessage);
  return said.length === 0 ? text : `${text}: ${said.join('; ')}`;
}
