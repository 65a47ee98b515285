import { describe, expect, it } from 'vitest';
import { NOW, promotion } from './testing/fixtures';
import { diffPromotion, isPromotionEnded, waitingFor } from './promotions';

describe(isPromotionEnded.name, () => {
  it('ends deployed, failed, canceled, rejected or expired, and nothing else', () => {
    expect(
      (
        [
          'awaiting-approval',
          'queued',
          'deploying',
          'deployed',
          'failed',
          'canceled',
          'rejected',
          'expired',
        ] as const
      ).filter(isPromotionEnded),
    ).toEqual(['deployed', 'failed', 'canceled', 'rejected', 'expired']);
  });
});

describe(waitingFor.name, () => {
  it('counts the approvals still missing, a rejection not being one, and when it expires', () => {
    const one = promotion({
      approvals: [
        { user: 'alice', decision: 'approve', at: NOW.toISOString() },
        { user: 'carol', decision: 'reject', at: NOW.toISOString() },
      ],
    });
    expect(waitingFor(one, NOW)).toBe('1 more approval from a release manager (expires in 23h55m)');
    expect(waitingFor(promotion({ expiresAt: '2025-01-10T11:59:00Z' }), NOW)).toBe(
      '2 more approvals from a release manager (expiring)',
    );
  });

  it("prefers the server's reason, names the deploy lock or run, and nothing once ended", () => {
    expect(waitingFor(promotion({ state: 'queued' }), NOW)).toBe('the production deploy lock');
    expect(
      waitingFor(promotion({ state: 'queued', statusMessage: 'run #2 is deploying' }), NOW),
    ).toBe('run #2 is deploying');
    expect(
      waitingFor(
        promotion({ state: 'deploying', deployRun: { id: 'd', number: 9, state: 'running' } }),
        NOW,
      ),
    ).toBe('deploy run #9 (running)');
    expect(waitingFor(promotion({ state: 'deployed' }), NOW)).toBeUndefined();
  });
});

describe(diffPromotion.name, () => {
  it('reports the first look, a new decision, the deploy run, a new reason; else nothing', () => {
    const created = promotion();
    expect(diffPromotion(undefined, created, NOW)).toMatchObject({
      kind: 'promotion',
      from: null,
      to: 'awaiting-approval',
      approvals: 0,
      requiredApprovals: 2,
      decisions: [],
    });
    expect(diffPromotion(created, created, NOW)).toBeUndefined();
    const approved = promotion({
      approvals: [{ user: 'alice', decision: 'approve', at: NOW.toISOString() }],
    });
    expect(diffPromotion(created, approved, NOW)).toMatchObject({
      from: 'awaiting-approval',
      to: 'awaiting-approval',
      approvals: 1,
      decisions: [{ user: 'alice', decision: 'approve' }],
    });
    const deploying = promotion({
      state: 'deploying',
      approvals: approved.approvals,
      deployRun: { id: 'd', number: 9, state: 'running' },
    });
    expect(diffPromotion(approved, deploying, NOW)).toMatchObject({
      to: 'deploying',
      decisions: [],
      deployRun: { number: 9 },
    });
    const reason = { ...deploying, statusMessage: 'waiting for 1 cpu' };
    expect(diffPromotion(deploying, reason, NOW)?.statusMessage).toBe('waiting for 1 cpu');
  });
});
