import { CallSocket, SocketCallError, SocketRefusedError } from '@kiln/common';
import {
  MAX_CALLS_PER_FRAME,
  MAX_FRAME_BYTES,
  type SchedulerCall,
  type SchedulerEvent,
} from '@kiln/contracts';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { KilnProcess } from './support/kiln-process';
import { printProcessesOnFailure } from './support/on-failure';
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

  /** Every event the socket brings, read in the background. */
  function collect(socket: CallSocket<SchedulerCall>): SchedulerEvent[] {
    const events: SchedulerEvent[] = [];
    void (async () => {
      for await (const event of socket.events()) events.push(event as SchedulerEvent);
    })().catch(() => undefined);
    return events;
  }

  it('refuses a connection without the cluster token, as the HTTP API does', async () => {
    const opening = CallSocket.open(`${url}/api/v1/scheduler`, 'not-the-token');
    await expect(opening).rejects.toBeInstanceOf(SocketRefusedError);
    await expect(opening).rejects.toMatchObject({
      status: 401,
      message: expect.stringMatching(/cluster token is wrong/) as unknown,
    });
  });

  it('answers each refused call with its status and keeps the connection', async () => {
    const socket = await CallSocket.open<SchedulerCall>(`${url}/api/v1/scheduler`, TOKEN);
    const events = collect(socket);
    try {
      const early = socket.call({ type: 'REVIVE', frameworkId: 'nobody' });
      await expect(early).rejects.toBeInstanceOf(SocketCallError);
      await expect(early).rejects.toMatchObject({
        status: 400,
        message: expect.stringMatching(/first call on a connection must be SUBSCRIBE/) as unknown,
      });

      await socket.call({
        type: 'SUBSCRIBE',
        subscribe: { frameworkInfo: { name: 'socket-test', roles: ['socket'] } },
      });
      const frameworkId = await vi.waitFor(() => {
        const id = events.find((e) => e.type === 'SUBSCRIBED')?.subscribed?.frameworkId;
        if (id === undefined) throw new Error('no SUBSCRIBED yet');
        return id;
      });

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
      socket.close();
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
    const socket = await CallSocket.open<SchedulerCall>(`${url}/api/v1/scheduler`, TOKEN);
    const events = collect(socket);
    try {
      await socket.call({
        type: 'SUBSCRIBE',
        subscribe: { frameworkInfo: { name: 'socket-many', roles: ['socket'] } },
      });
      const frameworkId = await vi.waitFor(() => {
        const subscribed = events.find((e) => e.type === 'SUBSCRIBED');
        if (subscribed?.type !== 'SUBSCRIBED') throw new Error('no SUBSCRIBED yet');
        return subscribed.subscribed.frameworkId;
      });

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
      socket.close();
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
