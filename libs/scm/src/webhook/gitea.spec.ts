import { describe, expect, it } from 'vitest';
import pullRequest from './fixtures/gitea-pull-request.json';
import push from './fixtures/gitea-push.json';
import { normalizeWebhook } from './normalize';
import {
  body,
  clone,
  deliveryHeaders,
  SECRET,
  signatureHeaders,
  webhookError,
} from './spec-support';
import type { TriggerEvent } from './types';
import { verifyWebhook } from './verify';

const ZERO = '0000000000000000000000000000000000000000';

// Forgejo is a Gitea fork with the same payloads; only the header prefix differs.
describe.each(['gitea', 'forgejo'] as const)('%s webhooks', (forge) => {
  function receive(event: string, payload: unknown): TriggerEvent {
    const raw = body(payload);
    const headers = { ...signatureHeaders(forge, raw), ...deliveryHeaders(forge, event) };
    verifyWebhook(forge, headers, raw, SECRET);
    return normalizeWebhook(forge, headers, raw);
  }

  it('normalizes a push', () => {
    expect(receive('push', push)).toEqual({
      kind: 'push',
      forge,
      deliveryId: 'delivery-1',
      repository: {
        fullName: 'gitea/webhooks',
        cloneUrl: 'http://localhost:3000/gitea/webhooks.git',
        id: '140',
      },
      ref: 'refs/heads/develop',
      branch: 'develop',
      before: '28e1879d029cb852e4844d9c718537df08844e03',
      after: 'bffeb74224043ba2feb48d137756c8a9331c449a',
      commitMessage: 'Webhooks Yay!',
      author: 'gitea',
      changedFiles: ['README.md', 'docs/webhooks.md'],
      skipCi: false,
    });
  });

  it('ignores a branch deletion (all-zero after)', () => {
    const payload = { ...clone(push), after: ZERO, commits: [], head_commit: null };
    expect(receive('push', payload)).toMatchObject({ kind: 'ignored' });
  });

  it('flags [skip ci] in the head commit', () => {
    const payload = clone(push);
    payload.head_commit.message = 'Docs only [skip ci]';
    expect(receive('push', payload)).toMatchObject({ skipCi: true });
  });

  it.each([
    ['opened', 'opened'],
    ['synchronized', 'updated'],
    ['reopened', 'reopened'],
  ])('maps pull request action %s to %s', (raw, action) => {
    const payload = { ...clone(pullRequest), action: raw };
    expect(receive('pull_request', payload)).toMatchObject({ kind: 'pull_request', action });
  });

  it('ignores a closed pull request', () => {
    const payload = { ...clone(pullRequest), action: 'closed' };
    expect(receive('pull_request', payload)).toMatchObject({ kind: 'ignored' });
  });

  it('normalizes a pull request from the same repository', () => {
    expect(receive('pull_request', pullRequest)).toMatchObject({
      kind: 'pull_request',
      number: 7,
      title: 'Add webhook docs',
      headSha: 'bffeb74224043ba2feb48d137756c8a9331c449a',
      headBranch: 'feature/docs',
      baseBranch: 'master',
      fromFork: false,
      author: 'alice',
    });
  });

  it('detects a pull request from a fork by head repo id', () => {
    const payload = clone(pullRequest);
    payload.pull_request.head.repo.id = 141;
    expect(receive('pull_request', payload)).toMatchObject({ fromFork: true });
  });

  it('rejects malformed JSON with 400', () => {
    const headers = deliveryHeaders(forge, 'push');
    expect(webhookError(() => normalizeWebhook(forge, headers, Buffer.from('nope'))).status).toBe(
      400,
    );
  });

  it('rejects a missing delivery id with 400', () => {
    const headers = deliveryHeaders(forge, 'push');
    delete headers[`x-${forge}-delivery`];
    const error = webhookError(() => normalizeWebhook(forge, headers, body(push)));
    expect(error.status).toBe(400);
    expect(error.message).toMatch(/Delivery is missing/);
  });
});

describe('forgejo webhooks', () => {
  it('accepts the X-Gitea-* event and delivery headers Forgejo also sends', () => {
    const headers = deliveryHeaders('gitea', 'push', 'from-gitea-header');
    expect(normalizeWebhook('forgejo', headers, body(push))).toMatchObject({
      kind: 'push',
      forge: 'forgejo',
      deliveryId: 'from-gitea-header',
    });
  });
});
