import { describe, expect, it } from 'vitest';
import mergeRequest from './fixtures/gitlab-merge-request.json';
import push from './fixtures/gitlab-push.json';
import tagPush from './fixtures/gitlab-tag-push.json';
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
  const headers = { ...signatureHeaders('gitlab', raw), ...deliveryHeaders('gitlab', event) };
  verifyWebhook('gitlab', headers, raw, SECRET);
  return normalizeWebhook('gitlab', headers, raw);
}

const ZERO = '0000000000000000000000000000000000000000';

describe('GitLab webhooks', () => {
  it('normalizes a push hook', () => {
    expect(receive('Push Hook', push)).toEqual({
      kind: 'push',
      forge: 'gitlab',
      deliveryId: 'delivery-1',
      repository: {
        fullName: 'mike/diaspora',
        cloneUrl: 'http://example.com/mike/diaspora.git',
        id: '15',
      },
      ref: 'refs/heads/master',
      branch: 'master',
      before: '95790bf891e76fee5e1747ab589903a6a1f80f22',
      after: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7',
      commitMessage: 'fixed readme',
      // The head commit's author, not jsmith who pushed it.
      author: 'GitLab dev user',
      changedFiles: ['CHANGELOG', 'README.md', 'app/controller/application.rb', 'lib/old.rb'],
      skipCi: false,
    });
  });

  it('sets the tag for a tag push hook', () => {
    expect(receive('Tag Push Hook', tagPush)).toMatchObject({
      kind: 'push',
      ref: 'refs/tags/v1.0.0',
      tag: 'v1.0.0',
      changedFiles: [],
    });
  });

  it('ignores a branch deletion (all-zero after)', () => {
    const payload = { ...clone(push), before: push.after, after: ZERO, commits: [] };
    expect(receive('Push Hook', payload)).toMatchObject({
      kind: 'ignored',
      reason: 'refs/heads/master was deleted',
    });
  });

  it('flags [ci skip] in the head commit, not in earlier commits', () => {
    const payload = clone(push);
    payload.commits[1]!.message = 'fixed readme [ci skip]';
    expect(receive('Push Hook', payload)).toMatchObject({ skipCi: true });
    const earlier = clone(push);
    earlier.commits[0]!.message = 'wip [skip ci]';
    expect(receive('Push Hook', earlier)).toMatchObject({ skipCi: false });
  });

  it('normalizes an opened merge request from the same project', () => {
    expect(receive('Merge Request Hook', mergeRequest)).toEqual({
      kind: 'pull_request',
      forge: 'gitlab',
      deliveryId: 'delivery-1',
      repository: {
        fullName: 'gitlabhq/gitlab-test',
        cloneUrl: 'http://example.com/gitlabhq/gitlab-test.git',
        id: '1',
      },
      action: 'opened',
      number: 1,
      title: 'MS-Viewport',
      headSha: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7',
      headBranch: 'ms-viewport',
      baseBranch: 'master',
      fromFork: false,
      author: 'root',
    });
  });

  it('detects a merge request from a fork by source_project_id', () => {
    const payload = clone(mergeRequest);
    payload.object_attributes.source_project_id = 42;
    expect(receive('Merge Request Hook', payload)).toMatchObject({ fromFork: true });
  });

  it('maps update with new commits (oldrev) to updated, and reopen to reopened', () => {
    const update = clone(mergeRequest);
    Object.assign(update.object_attributes, { action: 'update', oldrev: ZERO.replace(/0/g, 'a') });
    expect(receive('Merge Request Hook', update)).toMatchObject({ action: 'updated' });
    const reopen = clone(mergeRequest);
    reopen.object_attributes.action = 'reopen';
    expect(receive('Merge Request Hook', reopen)).toMatchObject({ action: 'reopened' });
  });

  it('ignores an update that only edits the title (no oldrev)', () => {
    const update = clone(mergeRequest);
    update.object_attributes.action = 'update';
    expect(receive('Merge Request Hook', update).kind).toBe('ignored');
  });

  it.each(['close', 'merge', 'approved'])('ignores merge request action %s', (action) => {
    const payload = clone(mergeRequest);
    payload.object_attributes.action = action;
    expect(receive('Merge Request Hook', payload)).toMatchObject({ kind: 'ignored' });
  });

  it('accepts the older X-Gitlab-Webhook-UUID as delivery id', () => {
    const headers = { 'x-gitlab-event': 'Push Hook', 'x-gitlab-webhook-uuid': 'hook-uuid' };
    expect(normalizeWebhook('gitlab', headers, body(push))).toMatchObject({
      deliveryId: 'hook-uuid',
    });
  });

  it('rejects malformed JSON with 400', () => {
    const headers = deliveryHeaders('gitlab', 'Push Hook');
    expect(webhookError(() => normalizeWebhook('gitlab', headers, Buffer.from('{'))).status).toBe(
      400,
    );
  });

  it('rejects a missing delivery id with 400 naming the header', () => {
    const error = webhookError(() =>
      normalizeWebhook('gitlab', { 'x-gitlab-event': 'Push Hook' }, body(push)),
    );
    expect(error).toMatchObject({ status: 400, message: 'header X-Gitlab-Event-UUID is missing' });
  });
});
