import examples from '@octokit/webhooks-examples';
import { describe, expect, it } from 'vitest';
import { normalizeWebhook } from './normalize';
import {
  body,
  clone,
  deliveryHeaders,
  SECRET,
  signatureHeaders,
  webhookError,
} from './spec-support';
import type { Headers, TriggerEvent } from './types';
import { verifyWebhook } from './verify';

// Real payloads GitHub sent, as collected by @octokit/webhooks-examples.
function example(
  name: string,
  pick: (payload: Record<string, unknown>) => boolean,
): Record<string, unknown> {
  const definition = examples.find((d) => d.name === name);
  const found = (definition?.examples as Record<string, unknown>[] | undefined)?.find(pick);
  if (found === undefined) throw new Error(`no ${name} example matches`);
  return clone(found);
}

const pushToBranch = example('push', (p) => p.ref === 'refs/heads/master' && p.deleted === false);
const pushOfTag = example('push', (p) => p.ref === 'refs/tags/simple-tag' && p.created === true);
const tagDeletion = example('push', (p) => p.deleted === true);
const prOpened = example('pull_request', (p) => p.action === 'opened');
const prSynchronize = example('pull_request', (p) => p.action === 'synchronize');
const prReopened = example('pull_request', (p) => p.action === 'reopened');
const prClosed = example('pull_request', (p) => p.action === 'closed');
const ping = example('ping', (p) => p.repository !== undefined);
const orgPing = example('ping', (p) => p.repository === undefined);

/** Signs and verifies like the receiver will, then normalizes. */
function receive(event: string, payload: unknown, headers: Headers = {}): TriggerEvent {
  const raw = body(payload);
  const all = {
    ...signatureHeaders('github', raw),
    ...deliveryHeaders('github', event),
    ...headers,
  };
  verifyWebhook('github', all, raw, SECRET);
  return normalizeWebhook('github', all, raw);
}

describe('GitHub webhooks', () => {
  it('normalizes a push to a branch', () => {
    expect(receive('push', pushToBranch)).toEqual({
      kind: 'push',
      forge: 'github',
      deliveryId: 'delivery-1',
      repository: {
        fullName: 'Codertocat/Hello-World',
        cloneUrl: 'https://github.com/Codertocat/Hello-World.git',
        id: '186853002',
      },
      ref: 'refs/heads/master',
      branch: 'master',
      before: '0000000000000000000000000000000000000000',
      after: '6113728f27ae82c7b1a177c8d03f9e96e0adf246',
      commitMessage: 'Initial commit',
      author: 'Codertocat',
      changedFiles: ['README.md'],
      skipCi: false,
    });
  });

  it('sets the tag, not the branch, for a tag push', () => {
    const event = receive('push', pushOfTag);
    expect(event).toMatchObject({ kind: 'push', ref: 'refs/tags/simple-tag', tag: 'simple-tag' });
    expect(event).not.toHaveProperty('branch');
  });

  it('ignores a tag deletion', () => {
    expect(receive('push', tagDeletion)).toMatchObject({
      kind: 'ignored',
      reason: 'refs/tags/simple-tag was deleted',
    });
  });

  it('ignores a branch deletion', () => {
    const deletion = {
      ...clone(pushToBranch),
      deleted: true,
      created: false,
      before: pushToBranch.after,
      after: '0000000000000000000000000000000000000000',
      commits: [],
      head_commit: null,
    };
    expect(receive('push', deletion)).toMatchObject({
      kind: 'ignored',
      reason: 'refs/heads/master was deleted',
    });
  });

  it('ignores an all-zero after even without the deleted flag', () => {
    const deletion = { ...clone(pushToBranch), after: '0'.repeat(40) };
    expect(receive('push', deletion).kind).toBe('ignored');
  });

  it.each(['[skip ci]', '[ci skip]', '[Skip CI]'])(
    'flags a head commit message with %s',
    (marker) => {
      const payload = clone(pushToBranch);
      payload.head_commit = { ...(payload.head_commit as object), message: `Tweak docs ${marker}` };
      expect(receive('push', payload)).toMatchObject({ kind: 'push', skipCi: true });
    },
  );

  it("names the head commit's author as the author, not whoever pushed it", () => {
    const payload = clone(pushToBranch);
    payload.head_commit = {
      ...(payload.head_commit as object),
      author: { name: 'Ada Lovelace', email: 'ada@example.com', username: 'ada' },
    };
    expect(receive('push', payload)).toMatchObject({ kind: 'push', author: 'ada' });
    payload.head_commit = {
      ...(payload.head_commit as object),
      author: { name: 'Ada Lovelace', email: 'ada@example.com' },
    };
    expect(receive('push', payload)).toMatchObject({ kind: 'push', author: 'Ada Lovelace' });
  });

  it('collects changed files as the union over all commits', () => {
    const payload = clone(pushToBranch);
    payload.commits = [
      { id: 'a', message: 'one', added: ['a.ts'], modified: ['README.md'], removed: [] },
      { id: 'b', message: 'two', added: [], modified: ['a.ts'], removed: ['old.ts'] },
    ];
    expect(receive('push', payload)).toMatchObject({
      changedFiles: ['README.md', 'a.ts', 'old.ts'],
    });
  });

  it.each([
    [prOpened, 'opened'],
    [prSynchronize, 'updated'],
    [prReopened, 'reopened'],
  ])('maps pull request action %#', (payload, action) => {
    expect(receive('pull_request', payload)).toMatchObject({ kind: 'pull_request', action });
  });

  it('normalizes a pull request from the same repository', () => {
    expect(receive('pull_request', prSynchronize)).toEqual({
      kind: 'pull_request',
      forge: 'github',
      deliveryId: 'delivery-1',
      repository: {
        fullName: 'Codertocat/Hello-World',
        cloneUrl: 'https://github.com/Codertocat/Hello-World.git',
        id: '186853002',
      },
      action: 'updated',
      number: 2,
      title: 'Update the README with new information.',
      headSha: 'ec26c3e57ca3a959ca5aad62de7213c562f8c821',
      headBranch: 'changes',
      baseBranch: 'master',
      fromFork: false,
      author: 'Codertocat',
    });
  });

  it('detects a pull request from a fork by head repo id', () => {
    const payload = clone(prOpened);
    const head = (payload.pull_request as { head: { repo: { id: number } } }).head;
    head.repo.id = 999;
    expect(receive('pull_request', payload)).toMatchObject({ fromFork: true });
  });

  it('treats a pull request whose fork was deleted (head.repo null) as from a fork', () => {
    const payload = clone(prOpened);
    (payload.pull_request as { head: { repo: unknown } }).head.repo = null;
    expect(receive('pull_request', payload)).toMatchObject({ fromFork: true });
  });

  it('ignores a closed pull request', () => {
    expect(receive('pull_request', prClosed)).toMatchObject({
      kind: 'ignored',
      reason: 'pull request action closed',
    });
  });

  it('normalizes a ping, with or without a repository', () => {
    expect(receive('ping', ping)).toMatchObject({
      kind: 'ping',
      repository: { fullName: 'Octocoders/Hello-World' },
    });
    expect(receive('ping', orgPing)).toEqual({
      kind: 'ping',
      forge: 'github',
      deliveryId: 'delivery-1',
      repository: undefined,
    });
  });

  it('ignores events Kiln does not run on', () => {
    expect(receive('star', { action: 'created' })).toMatchObject({
      kind: 'ignored',
      reason: 'unsupported event star',
    });
  });

  it('rejects malformed JSON with 400', () => {
    const raw = Buffer.from('{"ref": "refs/heads/main",');
    const error = webhookError(() =>
      normalizeWebhook('github', deliveryHeaders('github', 'push'), raw),
    );
    expect(error.status).toBe(400);
  });

  it('rejects a JSON body that is not an object with 400', () => {
    const error = webhookError(() =>
      normalizeWebhook('github', deliveryHeaders('github', 'push'), Buffer.from('[1]')),
    );
    expect(error.status).toBe(400);
  });

  it('rejects a missing delivery id with 400 naming the header', () => {
    const error = webhookError(() =>
      normalizeWebhook('github', { 'x-github-event': 'push' }, body(pushToBranch)),
    );
    expect(error.status).toBe(400);
    expect(error.message).toBe('header X-GitHub-Delivery is missing');
  });

  it('rejects a missing event header with 400 naming the header', () => {
    const error = webhookError(() =>
      normalizeWebhook('github', { 'x-github-delivery': 'd' }, body(pushToBranch)),
    );
    expect(error).toMatchObject({ status: 400, message: 'header X-GitHub-Event is missing' });
  });

  it('rejects a push without the fields Kiln needs with 422', () => {
    const payload = clone(pushToBranch);
    delete payload.ref;
    expect(webhookError(() => receive('push', payload)).status).toBe(422);
  });
});
