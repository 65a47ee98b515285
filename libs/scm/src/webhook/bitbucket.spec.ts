import { describe, expect, it } from 'vitest';
import pullRequest from './fixtures/bitbucket-pull-request.json';
import push from './fixtures/bitbucket-push.json';
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

function receive(event: string, payload: unknown): TriggerEvent {
  const raw = body(payload);
  const headers = { ...signatureHeaders('bitbucket', raw), ...deliveryHeaders('bitbucket', event) };
  verifyWebhook('bitbucket', headers, raw, SECRET);
  return normalizeWebhook('bitbucket', headers, raw);
}

function firstChange(payload: typeof push): Record<string, unknown> {
  return payload.push.changes[0] as unknown as Record<string, unknown>;
}

describe('Bitbucket Cloud webhooks', () => {
  it('normalizes a repo:push, with no changed files since Bitbucket sends none', () => {
    expect(receive('repo:push', push)).toEqual({
      kind: 'push',
      forge: 'bitbucket',
      deliveryId: 'delivery-1',
      repository: {
        fullName: 'team_name/kiln-demo',
        cloneUrl: 'https://bitbucket.org/team_name/kiln-demo.git',
        id: '{c3a5e0b2-1111-4111-8111-000000000002}',
      },
      ref: 'refs/heads/main',
      branch: 'main',
      before: '1e65c05c1d5171631d92438a13901ca7dae9618c',
      after: '709d658dc5b6d6afcd46049c2f332ee3f515a67d',
      commitMessage: 'Add a Kilnfile\n',
      // The commit's author (`Emma <emma@example.com>`), not the account that pushed.
      author: 'Emma',
      changedFiles: [],
      skipCi: false,
    });
  });

  it('sets the tag for a pushed tag and a zero before for a created ref', () => {
    const payload = clone(push);
    const change = firstChange(payload);
    change.old = null;
    change.created = true;
    (change.new as { type: string; name: string }).type = 'tag';
    (change.new as { name: string }).name = 'v2.0.0';
    expect(receive('repo:push', payload)).toMatchObject({
      ref: 'refs/tags/v2.0.0',
      tag: 'v2.0.0',
      before: '0'.repeat(40),
    });
  });

  it('ignores a branch deletion (new is null)', () => {
    const payload = clone(push);
    const change = firstChange(payload);
    change.new = null;
    change.closed = true;
    expect(receive('repo:push', payload)).toMatchObject({
      kind: 'ignored',
      reason: 'main was deleted',
    });
  });

  it('flags [skip ci] in the pushed commit message', () => {
    const payload = clone(push);
    (firstChange(payload).new as { target: { message: string } }).target.message = 'Docs [skip ci]';
    expect(receive('repo:push', payload)).toMatchObject({ skipCi: true });
  });

  it('normalizes pullrequest:created from the same repository', () => {
    expect(receive('pullrequest:created', pullRequest)).toEqual({
      kind: 'pull_request',
      forge: 'bitbucket',
      deliveryId: 'delivery-1',
      repository: {
        fullName: 'team_name/kiln-demo',
        cloneUrl: 'https://bitbucket.org/team_name/kiln-demo.git',
        id: '{c3a5e0b2-1111-4111-8111-000000000002}',
      },
      action: 'opened',
      number: 12,
      title: 'Add a Kilnfile',
      headSha: '709d658dc5b6',
      headBranch: 'feature/kilnfile',
      baseBranch: 'main',
      fromFork: false,
      author: 'emma',
    });
  });

  it('maps pullrequest:updated to updated', () => {
    expect(receive('pullrequest:updated', pullRequest)).toMatchObject({ action: 'updated' });
  });

  it('detects a pull request from a fork by source repository uuid', () => {
    const payload = clone(pullRequest);
    payload.pullrequest.source.repository = {
      type: 'repository',
      full_name: 'emma/kiln-demo',
      uuid: '{99999999-0000-4000-8000-000000000009}',
    };
    expect(receive('pullrequest:created', payload)).toMatchObject({ fromFork: true });
  });

  it.each(['pullrequest:fulfilled', 'pullrequest:rejected', 'repo:fork'])('ignores %s', (event) => {
    expect(receive(event, pullRequest)).toMatchObject({ kind: 'ignored' });
  });

  it('rejects malformed JSON with 400', () => {
    const headers = deliveryHeaders('bitbucket', 'repo:push');
    expect(
      webhookError(() => normalizeWebhook('bitbucket', headers, Buffer.from('{]'))).status,
    ).toBe(400);
  });

  it('rejects a missing delivery id with 400 naming the header', () => {
    const error = webhookError(() =>
      normalizeWebhook('bitbucket', { 'x-event-key': 'repo:push' }, body(push)),
    );
    expect(error).toMatchObject({ status: 400, message: 'header X-Request-UUID is missing' });
  });

  it('accepts X-Hook-UUID as delivery id when X-Request-UUID is absent', () => {
    const headers = { 'x-event-key': 'repo:push', 'x-hook-uuid': 'hook-1' };
    expect(normalizeWebhook('bitbucket', headers, body(push))).toMatchObject({
      deliveryId: 'hook-1',
    });
  });
});
