import { freePort } from '@kiln/queue/testing';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GitDaemon } from './support/git-daemon';
import { KilnProcess } from './support/kiln-process';
import { printProcessesOnFailure } from './support/on-failure';
import { SseClient } from './support/sse-client';
import { openSession } from './support/user';

const TOKEN = 'e2e-live-events-api-token-0123456789';
const AUTH = { authorization: `Bearer ${TOKEN}` };

describe('GET /api/v1/events: live pages over Server-Sent Events', () => {
  beforeEach(printProcessesOnFailure);
  let server: KilnProcess;
  let git: GitDaemon;
  let url: string;
  let repositoryId: string;
  const streams: SseClient[] = [];

  beforeAll(async () => {
    git = await GitDaemon.start(await freePort());
    git.createRepository('shop');
    // No master runs here: environments need none, and the server survives without it.
    server = KilnProcess.start('server', {
      KILN_CLUSTER_TOKEN: 'e2e-live-events-cluster-token',
      KILN_API_TOKEN: TOKEN,
    });
    url = await server.url();
    const res = await fetch(`${url}/api/v1/repositories`, {
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ forge: 'github', fullName: 'acme/shop', cloneUrl: git.url('shop') }),
    });
    expect(res.status, await res.clone().text()).toBe(201);
    repositoryId = ((await res.json()) as { id: string }).id;
  });

  afterAll(async () => {
    for (const stream of streams) stream.close();
    await Promise.all([server?.dispose(), git?.stop()]);
  });

  async function open(topics: string, headers: Record<string, string> = AUTH): Promise<SseClient> {
    const stream = await SseClient.open(
      `${url}/api/v1/events?topics=${encodeURIComponent(topics)}`,
      headers,
    );
    streams.push(stream);
    return stream;
  }

  async function saveEnvironment(name: string, body: object = {}): Promise<void> {
    const res = await fetch(`${url}/api/v1/repositories/${repositoryId}/environments/${name}`, {
      method: 'PUT',
      headers: { ...AUTH, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status, await res.clone().text()).toBe(200);
  }

  async function refusal(res: Response): Promise<{ status: number; message: unknown }> {
    const body = (await res.json()) as { message: unknown };
    return { status: res.status, message: body.message };
  }

  it('answers 401 without credentials, and 401 to an unknown token', async () => {
    const anonymous = await fetch(`${url}/api/v1/events?topics=queue`);
    expect(await refusal(anonymous)).toEqual({
      status: 401,
      message: 'sign in, or send an API token: Authorization: Bearer <token>',
    });
    const stranger = await open('queue', { authorization: 'Bearer not-a-kiln-token' });
    expect(await refusal(stranger.response)).toEqual({
      status: 401,
      message: 'the API token is unknown or revoked',
    });
  });

  it('answers 400 naming an unknown topic, a malformed id, or no topics at all', async () => {
    expect(await refusal((await open('queue,builds')).response)).toEqual({
      status: 400,
      message:
        'unknown topic "builds"; topics are run:<id>, repository:<id>, environments:<id>, queue, cluster, approvals',
    });
    expect(await refusal((await open('run:42')).response)).toEqual({
      status: 400,
      message: 'topic "run:42": run id must be a UUID',
    });
    const none = await fetch(`${url}/api/v1/events`, { headers: AUTH });
    expect(none.status).toBe(400);
    expect(JSON.stringify(await none.json())).toContain('topics must be a string');
  });

  it('answers 404 for a run or repository that does not exist', async () => {
    const run = randomUUID();
    expect(await refusal((await open(`run:${run}`)).response)).toEqual({
      status: 404,
      message: `run ${run} does not exist`,
    });
    const repository = randomUUID();
    expect(await refusal((await open(`environments:${repository}`)).response)).toEqual({
      status: 404,
      message: `repository ${repository} does not exist`,
    });
  });

  it("lets a signed-in browser watch a repository it has a role on, and no other's", async () => {
    const call = async (method: string, path: string, body: object): Promise<{ id: string }> => {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: { ...AUTH, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(res.ok, await res.clone().text()).toBe(true);
      return (await res.json()) as { id: string };
    };
    const passwords = { vera: 'vera-viewer-password', otto: 'otto-outsider-password' };
    const vera = await call('POST', '/api/v1/users', {
      username: 'vera',
      password: passwords.vera,
    });
    await call('POST', '/api/v1/users', { username: 'otto', password: passwords.otto });
    await call('PUT', `/api/v1/repositories/${repositoryId}/members/${vera.id}`, {
      role: 'viewer',
    });
    const topic = `environments:${repositoryId}`;

    // The session cookie alone, as EventSource sends it: a GET needs no CSRF token.
    const viewer = await openSession(url, 'vera', passwords.vera);
    const watching = await open(`${topic},queue,cluster`, { cookie: viewer.cookie });
    expect(watching.response.status).toBe(200);
    expect((await watching.next()).event).toBe('ready');
    watching.close();

    // Without a role the repository does not exist for otto, as on its own routes.
    const outsider = await openSession(url, 'otto', passwords.otto);
    expect(await refusal((await open(topic, { cookie: outsider.cookie })).response)).toEqual({
      status: 404,
      message: `repository ${repositoryId} does not exist`,
    });
    // What every signed-in user may watch.
    const queue = await open('queue', { cookie: outsider.cookie });
    expect((await queue.next()).event).toBe('ready');
    queue.close();
  });

  it('sends each change with an id, and replays what was missed after Last-Event-ID', async () => {
    const topic = `environments:${repositoryId}`;
    const first = await open(topic);
    expect(first.response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const ready = await first.next();
    expect(ready.event).toBe('ready');
    expect(ready.id).toMatch(/^[0-9a-f]+-\d+$/);

    await saveEnvironment('staging');
    const staging = await first.next();
    expect(staging).toMatchObject({
      event: 'change',
      data: { topics: [topic], kind: 'environment' },
    });
    first.close();

    // Changed while the page was away: production, then its policy again.
    await saveEnvironment('production', { previous: 'staging' });
    await saveEnvironment('production', { previous: 'staging', requiredApprovals: 1 });

    const resumed = await open(topic, { ...AUTH, 'last-event-id': staging.id! });
    const missed = [await resumed.next(), await resumed.next()];
    expect(missed.map((event) => event.event)).toEqual(['change', 'change']);
    const [one, two] = missed.map((event) => Number(event.id!.split('-')[1]));
    expect(two).toBe(one! + 1);
    expect(one).toBe(Number(staging.id!.split('-')[1]) + 1);

    // Live again after the replay.
    await saveEnvironment('qa');
    expect(await resumed.next()).toMatchObject({ event: 'change', data: { kind: 'environment' } });
  });

  it('tells a client whose Last-Event-ID it does not know to reload everything', async () => {
    const stream = await open(`environments:${repositoryId}`, {
      ...AUTH,
      'last-event-id': 'feedface-1',
    });
    const reset = await stream.next();
    expect(reset.event).toBe('reset');
    // Where the client resumes from next time: the newest event here.
    expect(reset.id).toMatch(/^[0-9a-f]+-\d+$/);
    expect(reset.id).not.toBe('feedface-1');
  });

  // Last: it stops the server.
  it('ends its open streams when it stops, and stops cleanly', async () => {
    const stream = await open('queue');
    expect((await stream.next()).event).toBe('ready');
    server.signal('SIGTERM');
    await expect(stream.next()).rejects.toThrow('the stream ended');
    expect(await server.exitCode()).toBe(0);
  });
});
