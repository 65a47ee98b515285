import { strict } from '@kiln/common/testing';
import type { CreateRunResult, Delivery, NewRun, Repository, Run } from '@kiln/persistence';
import { RepositoriesRepository } from '@kiln/persistence';
import type { Headers } from '@kiln/scm';
import { HttpException } from '@nestjs/common';
import examples from '@octokit/webhooks-examples';
import { createHmac } from 'node:crypto';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { RunsService } from '../runs/runs.service';
import { TriggerService } from '../runs/trigger.service';
import { SecretBox } from '../secrets/secret-box';
import { IntakePressureService } from '../intake/intake-pressure.service';
import { WebhooksService } from './webhooks.service';

// Real payloads GitHub sent, as collected by @octokit/webhooks-examples.
function example(
  name: string,
  pick: (payload: Record<string, unknown>) => boolean,
): Record<string, unknown> {
  const definition = examples.find((d) => d.name === name);
  const found = (definition?.examples as Record<string, unknown>[] | undefined)?.find(pick);
  if (found === undefined) throw new Error(`no ${name} example matches`);
  return structuredClone(found);
}

const pushToBranch = example('push', (p) => p.ref === 'refs/heads/master' && p.deleted === false);
const prOpened = example('pull_request', (p) => p.action === 'opened');
const ping = example('ping', (p) => p.repository !== undefined);
const orgPing = example('ping', (p) => p.repository === undefined);
const prClosed = example('pull_request', (p) => p.action === 'closed');
const tagDeletion = example('push', (p) => p.deleted === true);
const issueOpened = example('issues', (p) => p.action === 'opened');

const SECRET = 'It’s a Secret to Everybody';

function sign(raw: Buffer, secret = SECRET): string {
  return `sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`;
}

/** A GitHub delivery of `payload` as JSON, signed with `secret`. */
function delivery(
  event: string,
  payload: unknown,
  options: { secret?: string; id?: string; signed?: boolean } = {},
): { headers: Headers; raw: Buffer } {
  const raw = Buffer.from(JSON.stringify(payload));
  return {
    raw,
    headers: {
      'content-type': 'application/json',
      'x-github-event': event,
      'x-github-delivery': options.id ?? 'delivery-1',
      ...(options.signed === false ? {} : { 'x-hub-signature-256': sign(raw, options.secret) }),
    },
  };
}

/** `payload` moved to the registered repository, as the forge would send it for that one. */
function forRegistered(payload: Record<string, unknown>): Record<string, unknown> {
  const moved = structuredClone(payload);
  (moved.repository as { full_name: string }).full_name = 'Codertocat/Hello-World';
  return moved;
}

/** The HttpException `promise` rejects with, failing the test on anything else. */
async function httpError(promise: Promise<unknown>): Promise<HttpException> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (error instanceof HttpException) return error;
  throw new Error(`expected an HttpException, got ${String(error)}`);
}

describe(WebhooksService.name, () => {
  const box = new SecretBox(Buffer.alloc(32, 3));
  let registered: Repository[];
  let create: ReturnType<typeof vi.fn<RunsService['create']>>;
  let service: WebhooksService;
  let readAhead: ReturnType<typeof vi.fn<TriggerService['readAhead']>>;

  const run = (over: Partial<Run> = {}): Run => ({
    id: 'run-1',
    number: 42,
    state: 'pending',
    repositoryId: 'repo-1',
    event: 'push',
    ref: 'refs/heads/master',
    sha: 'a'.repeat(40),
    fromFork: false,
    createdAt: new Date(),
    ...over,
  });

  beforeEach(() => {
    registered = [
      {
        id: 'repo-1',
        forge: 'github',
        fullName: 'Codertocat/Hello-World',
        cloneUrl: 'https://github.com/Codertocat/Hello-World.git',
        defaultBranch: 'master',
        createdAt: new Date(),
        sealedWebhookSecret: box.seal(SECRET),
        autoCancelPullRequests: true,
        artifactRetention: {},
      },
    ];
    const repositories = {
      findById: (id: string) => Promise.resolve(registered.find((r) => r.id === id)),
      findByName: (forge: string, fullName: string) =>
        Promise.resolve(registered.find((r) => r.forge === forge && r.fullName === fullName)),
    };
    readAhead = vi.fn<TriggerService['readAhead']>();
    create = vi
      .fn<RunsService['create']>()
      .mockImplementation((input: NewRun) => Promise.resolve({ run: run(input) }));
    service = new WebhooksService(
      strict<RepositoriesRepository>('RepositoriesRepository', repositories),
      strict<RunsService>('RunsService', { create }),
      box,
      new IntakePressureService(),
      strict<TriggerService>('TriggerService', { readAhead }),
    );
  });

  it('creates a run for a signed push to a registered repository', async () => {
    const { headers, raw } = delivery('push', pushToBranch);

    const outcome = await service.receive('github', headers, raw);

    expect(outcome).toEqual({ status: 202, body: { runId: 'run-1', number: 42 } });
    expect(create).toHaveBeenCalledExactlyOnceWith(
      {
        repositoryId: 'repo-1',
        event: 'push',
        ref: 'refs/heads/master',
        branch: 'master',
        sha: '6113728f27ae82c7b1a177c8d03f9e96e0adf246',
        fromFork: false,
        message: 'Initial commit',
        author: 'Codertocat',
        changedFiles: ['README.md'],
      } satisfies NewRun,
      { forge: 'github', deliveryId: 'delivery-1', event: 'push' } satisfies Delivery,
    );
  });

  it("starts fetching the run's commit as it accepts the push, before its trigger runs", async () => {
    const { headers, raw } = delivery('push', pushToBranch);

    await service.receive('github', headers, raw);

    expect(readAhead).toHaveBeenCalledExactlyOnceWith(
      expect.objectContaining({ id: 'repo-1' }),
      expect.objectContaining({ id: 'run-1', sha: '6113728f27ae82c7b1a177c8d03f9e96e0adf246' }),
    );
  });

  it('finds the repository by its Kiln id when the hook URL names one', async () => {
    const { headers, raw } = delivery('push', pushToBranch);

    await service.receive('github', headers, raw, 'repo-1');

    expect(create).toHaveBeenCalledOnce();
    expect(await httpError(service.receive('github', headers, raw, 'repo-2'))).toMatchObject({
      status: 404,
    });
    const gitea: Headers = {
      'x-gitea-event': 'push',
      'x-gitea-delivery': 'delivery-2',
      'x-gitea-signature': sign(raw).slice('sha256='.length),
    };
    expect(await httpError(service.receive('gitea', gitea, raw, 'repo-1'))).toMatchObject({
      status: 404,
    });
  });

  it('rejects a delivery signed with another secret with 401 and creates nothing', async () => {
    const { headers, raw } = delivery('push', pushToBranch, { secret: 'guessed' });

    const error = await httpError(service.receive('github', headers, raw));

    expect(error.getStatus()).toBe(401);
    expect(create).not.toHaveBeenCalled();
  });

  it('rejects a delivery whose body was altered after signing with 401', async () => {
    const { headers } = delivery('push', pushToBranch);
    const altered = Buffer.from(JSON.stringify({ ...pushToBranch, after: 'f'.repeat(40) }));

    expect((await httpError(service.receive('github', headers, altered))).getStatus()).toBe(401);
    expect(create).not.toHaveBeenCalled();
  });

  it('rejects any delivery for a repository without a webhook secret with 401', async () => {
    const unsecured = { ...(registered[0] as Repository) };
    delete unsecured.sealedWebhookSecret;
    registered = [unsecured];
    const { headers, raw } = delivery('push', pushToBranch);

    expect((await httpError(service.receive('github', headers, raw))).getStatus()).toBe(401);
    expect(create).not.toHaveBeenCalled();
  });

  it('answers 404 for a repository that is not registered', async () => {
    const payload = structuredClone(pushToBranch);
    (payload.repository as { full_name: string }).full_name = 'someone/else';
    const { headers, raw } = delivery('push', payload);

    const error = await httpError(service.receive('github', headers, raw));

    expect(error.getStatus()).toBe(404);
    expect(error.message).toContain('someone/else');
    expect(create).not.toHaveBeenCalled();
  });

  it('answers 404 for a forge Kiln does not know', async () => {
    const { headers, raw } = delivery('push', pushToBranch);

    const error = await httpError(service.receive('svn', headers, raw));

    expect(error.getStatus()).toBe(404);
    expect(create).not.toHaveBeenCalled();
  });

  it('answers 400 for an empty body', async () => {
    const { headers } = delivery('push', pushToBranch);

    expect((await httpError(service.receive('github', headers, Buffer.alloc(0)))).getStatus()).toBe(
      400,
    );
    expect((await httpError(service.receive('github', headers, undefined))).getStatus()).toBe(400);
  });

  it('answers a ping with 200 and creates nothing', async () => {
    const payload = structuredClone(ping);
    (payload.repository as { full_name: string }).full_name = 'Codertocat/Hello-World';
    const { headers, raw } = delivery('ping', payload);

    expect(await service.receive('github', headers, raw)).toEqual({
      status: 200,
      body: { ignored: 'pong' },
    });
    expect(create).not.toHaveBeenCalled();
  });

  it('ignores a push whose head commit says [skip ci] with 202', async () => {
    const payload = structuredClone(pushToBranch);
    payload.head_commit = { ...(payload.head_commit as object), message: 'Docs [skip ci]' };
    const { headers, raw } = delivery('push', payload);

    expect(await service.receive('github', headers, raw)).toEqual({
      status: 202,
      body: { ignored: 'the head commit asks to skip CI' },
    });
    expect(create).not.toHaveBeenCalled();
  });

  it('ignores a branch deletion with 202', async () => {
    const deletion = {
      ...structuredClone(pushToBranch),
      deleted: true,
      before: pushToBranch.after,
      after: '0'.repeat(40),
      commits: [],
      head_commit: null,
    };
    const { headers, raw } = delivery('push', deletion);

    for (const repositoryId of [undefined, 'repo-1']) {
      expect(await service.receive('github', headers, raw, repositoryId)).toEqual({
        status: 202,
        body: { ignored: 'refs/heads/master was deleted' },
      });
    }
    expect(create).not.toHaveBeenCalled();
  });

  it('still checks the signature of an ignored event when the hook URL names the repository', async () => {
    const { headers, raw } = delivery('star', { action: 'created' }, { secret: 'guessed' });

    const error = await httpError(service.receive('github', headers, raw, 'repo-1'));

    expect(error.getStatus()).toBe(401);
  });

  it('reads a form-encoded GitHub delivery from its payload field', async () => {
    const raw = Buffer.from(
      new URLSearchParams({ payload: JSON.stringify(pushToBranch) }).toString(),
    );
    const headers: Headers = {
      'content-type': 'application/x-www-form-urlencoded',
      'x-github-event': 'push',
      'x-github-delivery': 'delivery-form',
      'x-hub-signature-256': sign(raw),
    };

    expect(await service.receive('github', headers, raw)).toMatchObject({ status: 202 });
    expect(create).toHaveBeenCalledExactlyOnceWith(
      expect.objectContaining({
        sha: '6113728f27ae82c7b1a177c8d03f9e96e0adf246',
        branch: 'master',
      }),
      { forge: 'github', deliveryId: 'delivery-form', event: 'push' },
    );
  });

  it('answers 400 for a form-encoded delivery without a payload field', async () => {
    const raw = Buffer.from('other=1');
    const headers: Headers = {
      'content-type': 'application/x-www-form-urlencoded',
      'x-github-event': 'push',
      'x-github-delivery': 'delivery-form',
      'x-hub-signature-256': sign(raw),
    };

    expect((await httpError(service.receive('github', headers, raw))).getStatus()).toBe(400);
  });

  it("runs a fork's pull request as from a fork, on the base repository's pull ref", async () => {
    const payload = structuredClone(prOpened);
    (payload.pull_request as { head: { repo: { id: number } } }).head.repo.id = 999;
    const { headers, raw } = delivery('pull_request', payload);

    await service.receive('github', headers, raw);

    expect(create).toHaveBeenCalledExactlyOnceWith(
      {
        repositoryId: 'repo-1',
        event: 'pull_request',
        ref: 'refs/pull/2/head',
        branch: 'changes',
        sha: 'ec26c3e57ca3a959ca5aad62de7213c562f8c821',
        message: 'Update the README with new information.',
        pullRequest: 2,
        fromFork: true,
        author: 'Codertocat',
      } satisfies NewRun,
      { forge: 'github', deliveryId: 'delivery-1', event: 'pull_request' },
    );
  });

  it('answers a redelivery with 200 and the run the first delivery created', async () => {
    create.mockResolvedValue({ duplicateOf: 'run-0' } satisfies CreateRunResult);
    const { headers, raw } = delivery('push', pushToBranch, { id: 'delivery-7' });

    expect(await service.receive('github', headers, raw)).toEqual({
      status: 200,
      body: { message: 'delivery delivery-7 was received before', duplicateOf: 'run-0' },
    });
    expect(readAhead).not.toHaveBeenCalled();
  });

  describe('verifies every delivery for a registered repository first', () => {
    const ignoredEvents: [string, string, Record<string, unknown>][] = [
      ['a pull request closed', 'pull_request', prClosed],
      ['a pull request labeled', 'pull_request', { ...prOpened, action: 'labeled' }],
      ['a tag deletion', 'push', tagDeletion],
      ['an issues event', 'issues', issueOpened],
    ];

    it.each(ignoredEvents)(
      'refuses %s with a wrong signature with 401',
      async (_, event, payload) => {
        const { headers, raw } = delivery(event, forRegistered(payload), { secret: 'guessed' });

        const error = await httpError(service.receive('github', headers, raw));

        expect(error.getStatus()).toBe(401);
        expect(error.message).toBe('signature in X-Hub-Signature-256 does not match');
      },
    );

    it.each(ignoredEvents)('refuses %s without a signature with 401', async (_, event, payload) => {
      const { headers, raw } = delivery(event, forRegistered(payload), { signed: false });

      expect((await httpError(service.receive('github', headers, raw))).getStatus()).toBe(401);
    });

    it.each(ignoredEvents)(
      'answers %s signed right with 202 and why',
      async (_, event, payload) => {
        const { headers, raw } = delivery(event, forRegistered(payload));

        expect(await service.receive('github', headers, raw)).toMatchObject({
          status: 202,
          body: { ignored: expect.any(String) as unknown },
        });
        expect(create).not.toHaveBeenCalled();
      },
    );

    it('refuses a delivery with a wrong signature before reading its headers', async () => {
      const { headers, raw } = delivery('push', pushToBranch, { secret: 'guessed' });
      delete headers['x-github-delivery'];

      expect((await httpError(service.receive('github', headers, raw))).getStatus()).toBe(401);
    });
  });

  it('answers an organization ping, which names no repository, with 200 saying why', async () => {
    const { headers, raw } = delivery('ping', orgPing, { secret: 'any org secret' });

    const outcome = await service.receive('github', headers, raw);

    expect(outcome.status).toBe(200);
    expect(outcome.body).toEqual({
      ignored: expect.stringMatching(/^pong: this hook names no repository/) as unknown,
    });
    expect(create).not.toHaveBeenCalled();
  });

  it('answers 415 naming the content type for JSON sent as text/plain', async () => {
    const { headers } = delivery('push', pushToBranch);
    headers['content-type'] = 'text/plain; charset=utf-8';

    // Express reads no body of a type it does not parse: the service sees none.
    const error = await httpError(service.receive('github', headers, undefined));

    expect(error.getStatus()).toBe(415);
    expect(error.message).toContain('Content-Type text/plain is not accepted');
    expect(error.message).toContain('application/json');
  });

  it.each([
    ['null', 'null'],
    ['true', 'a boolean'],
    ['"hello"', 'a string'],
    ['42', 'a number'],
    ['[1]', 'an array'],
  ])('tells a body of %s it is JSON but not an object', async (text, kind) => {
    const { headers } = delivery('push', pushToBranch);

    const error = await httpError(service.receive('github', headers, Buffer.from(text)));

    expect(error.getStatus()).toBe(400);
    expect(error.message).toBe(`the body is JSON but not an object: it is ${kind}`);
  });

  it('refuses a delivery id longer than 200 characters with 400', async () => {
    const { headers, raw } = delivery('push', pushToBranch, { id: 'x'.repeat(10_000) });

    const error = await httpError(service.receive('github', headers, raw));

    expect(error.getStatus()).toBe(400);
    expect(error.message).toBe('header X-GitHub-Delivery is longer than 200 characters');
    expect(create).not.toHaveBeenCalled();
  });

  it('stores the first 64 KiB of a 5 MB commit message, saying it was cut', async () => {
    const payload = structuredClone(pushToBranch);
    const message = `Subject\n\n${'é'.repeat(2_500_000)}`;
    payload.head_commit = { ...(payload.head_commit as object), message };
    const { headers, raw } = delivery('push', payload);

    await service.receive('github', headers, raw);

    const stored = create.mock.calls[0]?.[0].message ?? '';
    expect(Buffer.byteLength(stored)).toBeLessThanOrEqual(64 * 1024);
    expect(stored.startsWith('Subject\n\néé')).toBe(true);
    expect(stored).toMatch(/\[cut by Kiln: 5000009 bytes, of which the first 65536 are kept\]$/);
  });

  it('refuses a branch name git could not store with 422', async () => {
    const payload = structuredClone(pushToBranch);
    payload.ref = `refs/heads/${'b'.repeat(300)}`;
    const { headers, raw } = delivery('push', payload);

    const error = await httpError(service.receive('github', headers, raw));

    expect(error.getStatus()).toBe(422);
    expect(error.message).toBe('the ref has a part longer than 255 bytes');
  });
});
