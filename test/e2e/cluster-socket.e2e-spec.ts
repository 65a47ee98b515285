import { CallSocket, SocketCallError, SocketRefusedError } from '@kiln/common';
import { MAX_CALLS_PER_FRAME, MAX_FRAME_BYTES } from '@kiln/contracts';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { KilnProcess } from './support/kiln-process';
import { printProcessesOnFailure } from './support/on-failure';
import { SocketFramework } from './support/socket-framework';
import { shellTask, TestFramework } from './support/test-framework';

const TOKEN = 'e2e-socket-token-0123456789abcdef';

describe('the master over WebSockets, beside its HTTP API', () => {
  beforeEach(printProcessesOnFailure);
  let master: KilnProcess;
  let agent: KilnProcess;
  let url: string;

  beforeAll(async () => {
    master = KilnProcess.start('master', { KILN_CLUSTER_TOKEN: TOKEN });
    url = await master.url();
    agent = KilnProcess.start('agent', {
      KILN_CLUSTER_TOKEN: TOKEN,
      KILN_MASTER_URL: url,
      KILN_AGENT_RESOURCES: 'cpus:4;mem:1024;disk:100',
      KILN_AGENT_CONTAINERIZERS: 'process',
    });
    await agent.url();
  });

  afterAll(async () => {
    await Promise.all([agent.dispose(), master.dispose()]);
  });

  it('refuses a connection without the cluster token, as the HTTP API does', async () => {
    const opening = CallSocket.open(`${url}/api/v1/scheduler`, 'not-the-token');
    await expect(opening).rejects.toBeInstanceOf(SocketRefusedError);
    await expect(opening).rejects.toMatchObject({
      status: 401,
      message: expect.stringMatching(/cluster token is wrong/) as unknown,
    });
  });

  it('answers each refused call with its status and keeps the connection', async () => {
    const framework = await SocketFramework.open(url, TOKEN);
    const { socket, events } = framework;
    try {
      const early = socket.call({ type: 'REVIVE', frameworkId: 'nobody' });
      await expect(early).rejects.toBeInstanceOf(SocketCallError);
      await expect(early).rejects.toMatchObject({
        status: 400,
        message: expect.stringMatching(/first call on a connection must be SUBSCRIBE/) as unknown,
      });

      const frameworkId = await framework.subscribe('socket-test', ['socket']);

      // Three calls in one frame: the bad one in the middle is refused alone.
      const answers = await Promise.allSettled([
        socket.call({ type: 'SUPPRESS', frameworkId }),
        socket.call({ type: 'DECLINE', frameworkId, decline: { offerIds: ['no such offer!'] } }),
        socket.call({ type: 'REVIVE', frameworkId }),
      ]);
      expect(answers.map((a) => a.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      const refusal = (answers[1] as PromiseRejectedResult).reason as SocketCallError;
      expect(refusal.status).toBe(400);
      expect(refusal.message).toMatch(/decline\.offerIds/);

      // Still subscribed: REVIVE brought offers of the agent.
      await expect
        .poll(() => events.some((e) => e.type === 'OFFERS'), { timeout: 10_000 })
        .toBe(true);
    } finally {
      framework.close();
    }
  });

  it('closes a connection that sends a frame which is not one', async () => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/api/v1/scheduler`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.send('{"calls": "not a list"}');
    expect(await closed).toBe(1008);
  });

  it('closes a connection that sends a frame larger than the master reads', async () => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/api/v1/scheduler`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    // Valid JSON of no calls, one byte over: the size alone is refused, before any parsing.
    const frame = '{"calls":[]}';
    ws.send(frame + ' '.repeat(MAX_FRAME_BYTES - frame.length + 1));
    expect(await closed).toBe(1009);
  });

  it('sends a tick of calls in frames the master reads, and refuses alone a call none could hold', async () => {
    const framework = await SocketFramework.open(url, TOKEN);
    const { socket } = framework;
    try {
      const frameworkId = await framework.subscribe('socket-many', ['socket']);

      // One tick: more calls than a frame may carry, then one larger than a frame, then one more.
      const many = Array.from({ length: MAX_CALLS_PER_FRAME + 1 }, () =>
        socket.call({ type: 'SUPPRESS', frameworkId }),
      );
      const huge = socket.call({
        type: 'KILL',
        frameworkId,
        kill: { taskId: 'x'.repeat(MAX_FRAME_BYTES) },
      });
      const after = socket.call({ type: 'REVIVE', frameworkId });

      const answers = await Promise.allSettled([Promise.all(many), huge, after]);
      expect(answers.map((a) => a.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect((answers[1] as PromiseRejectedResult).reason).toMatchObject({
        status: 413,
        message: expect.stringMatching(
          new RegExp(`more than the ${MAX_FRAME_BYTES} the master reads in one frame`),
        ) as unknown,
      });
    } finally {
      framework.close();
    }
  });

  it('launches tasks for a framework on the HTTP API and one on a WebSocket side by side', async () => {
    const outside = await TestFramework.start(
      url,
      TOKEN,
      { name: 'outside', roles: ['outside'] },
      { transport: 'http' },
    );
    const own = await TestFramework.start(
      url,
      TOKEN,
      { name: 'own', roles: ['own'] },
      { transport: 'websocket' },
    );
    try {
      outside.launch(shellTask('over-http', 'echo http'));
      own.launch(...[1, 2, 3].map((i) => shellTask(`over-socket-${i}`, 'true')));
      await outside.waitForState('over-http', 'TASK_FINISHED', 30_000);
      for (const i of [1, 2, 3])
        await own.waitForState(`over-socket-${i}`, 'TASK_FINISHED', 30_000);
      // Each framework saw only its own tasks.
      expect(new Set(outside.updates.map((u) => u.taskId))).toEqual(new Set(['over-http']));
      expect(own.updates.every((u) => u.taskId.startsWith('over-socket-'))).toBe(true);
    } finally {
      await Promise.all([outside.close(), own.close()]);
    }
  });
});
