import { HttpErrorFilter } from '@kiln/common';
import type { LogChunkMessage } from '@kiln/contracts';
import { DATABASE, TaskLogsRepository } from '@kiln/persistence';
import { createTestDatabase, type TestDatabase } from '@kiln/persistence/testing';
import { connectRedis, createRedisConnection, REDIS } from '@kiln/queue';
import { Module, ValidationPipe, type DynamicModule } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import type { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SecretBox } from '../secrets/secret-box';
import { LogTasks, type JobAttempts } from './log-tasks';
import { LogsConfig } from './logs.config';
import { LOG_CHUNK_BODY_LIMIT, LogsModule } from './logs.module';
import { LogsService } from './logs.service';
import { stepEndMarker, stepStartMarker } from './step-markers';
import { TaskTokens } from './task-tokens';

const REDIS_URL = process.env.KILN_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Stands for the runs module: tasks and jobs as a test declares them. */
class FakeLogTasks extends LogTasks {
  readonly tasks = new Map<string, { secrets: string[]; stepNames: string[] }>();
  /** Each job's attempts' tasks, oldest first; undefined: that attempt has launched none. */
  readonly jobs = new Map<string, { taskIds: (string | undefined)[]; ended: boolean }>();
  forIngestCalls = 0;

  forIngest(taskId: string): Promise<{ secrets: string[]; stepNames: string[] } | undefined> {
    this.forIngestCalls++;
    return Promise.resolve(this.tasks.get(taskId));
  }

  ofJob(jobId: string): Promise<JobAttempts | undefined> {
    const job = this.jobs.get(jobId);
    return Promise.resolve(
      job && {
        attempt: job.taskIds.length,
        taskIds: new Map(
          job.taskIds.flatMap((taskId, i) =>
            taskId === undefined ? [] : [[i + 1, taskId] as const],
          ),
        ),
        ended: job.ended,
      },
    );
  }

  /** A job with one attempt per task id, the latest last. */
  job(
    attempts = 1,
    secrets: string[] = [],
    stepNames: string[] = [],
  ): {
    jobId: string;
    taskIds: string[];
  } {
    const jobId = `job-${randomUUID()}`;
    const taskIds = Array.from({ length: attempts }, () => `task-${randomUUID()}`);
    for (const taskId of taskIds) this.tasks.set(taskId, { secrets, stepNames });
    this.jobs.set(jobId, { taskIds, ended: false });
    return { jobId, taskIds };
  }
}

@Module({})
class TestInfraModule {
  static forRoot(database: TestDatabase, redis: Redis, tasks: LogTasks): DynamicModule {
    return {
      module: TestInfraModule,
      global: true,
      providers: [
        { provide: DATABASE, useValue: database },
        { provide: REDIS, useValue: redis },
        { provide: SecretBox, useValue: new SecretBox(Buffer.alloc(32, 1)) },
        { provide: LogTasks, useValue: tasks },
        TaskLogsRepository,
      ],
      exports: [DATABASE, REDIS, SecretBox, LogTasks, TaskLogsRepository],
    };
  }
}

interface SseEvent {
  event: string;
  id?: string;
  data: unknown;
}

/** A minimal EventSource over fetch: collects events until the server closes the stream. */
class SseClient {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  private readonly abort = new AbortController();
  closed!: Promise<void>;

  static async open(
    url: string,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; headers: Headers; client: SseClient; body?: unknown }> {
    const client = new SseClient();
    const res = await fetch(url, { headers, signal: client.abort.signal });
    if (res.status !== 200 || res.body === null) {
      return { status: res.status, headers: res.headers, client, body: await res.json() };
    }
    client.closed = client.read(res.body);
    return { status: res.status, headers: res.headers, client };
  }

  close(): void {
    this.abort.abort();
  }

  logText(): string {
    return this.events
      .filter((e) => e.event === 'log')
      .map((e) => (e.data as { text: string }).text)
      .join('');
  }

  async waitFor(check: (events: SseEvent[]) => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check(this.events)) {
      if (Date.now() > deadline) {
        throw new Error(`no such events within ${timeoutMs} ms: ${JSON.stringify(this.events)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffered = '';
    try {
      for await (const bytes of body) {
        buffered += decoder.decode(bytes, { stream: true });
        let end = buffered.indexOf('\n\n');
        while (end >= 0) {
          this.parse(buffered.slice(0, end));
          buffered = buffered.slice(end + 2);
          end = buffered.indexOf('\n\n');
        }
      }
    } catch {
      // Aborted by the test.
    }
  }

  private parse(frame: string): void {
    const event: SseEvent = { event: 'message', data: undefined };
    for (const line of frame.split('\n')) {
      if (line.startsWith(':')) this.comments.push(line);
      else if (line.startsWith('event: ')) event.event = line.slice(7);
      else if (line.startsWith('id: ')) event.id = line.slice(4);
      else if (line.startsWith('data: ')) event.data = JSON.parse(line.slice(6));
    }
    if (event.data !== undefined) this.events.push(event);
  }
}

describe(LogsService.name, () => {
  let app: NestExpressApplication;
  let base: string;
  let database: TestDatabase;
  let redis: Redis;
  let tokens: TaskTokens;
  let config: LogsConfig;
  const tasks = new FakeLogTasks();

  beforeAll(async () => {
    database = await createTestDatabase('sqlite');
    redis = createRedisConnection(REDIS_URL, { connectionName: 'kiln-test-logs' });
    await connectRedis(redis, REDIS_URL);
    config = Object.assign(new LogsConfig(), { idleMs: 300, pageSize: 2 });
    const moduleRef = await Test.createTestingModule({
      imports: [TestInfraModule.forRoot(database, redis, tasks), LogsModule],
    })
      .overrideProvider(LogsConfig)
      .useValue(config)
      .compile();
    app = moduleRef.createNestApplication<NestExpressApplication>({ logger: false });
    app.useBodyParser('json', { limit: LOG_CHUNK_BODY_LIMIT });
    app.useGlobalPipes(
      new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }),
    );
    app.useGlobalFilters(new HttpErrorFilter(app.get(HttpAdapterHost)));
    await app.listen(0, '127.0.0.1');
    base = (await app.getUrl()).replace('[::1]', '127.0.0.1');
    tokens = app.get(TaskTokens);
  });

  afterAll(async () => {
    await app?.close();
    redis?.disconnect();
    await database?.drop();
  });

  /** Chunks of `text` as an agent cuts them: at line ends, offsets in bytes. */
  function chunksOf(taskId: string, lines: string[], eof = true): LogChunkMessage[] {
    let offset = 0;
    return lines.map((data, seq) => {
      const bytes = Buffer.byteLength(data);
      const chunk: LogChunkMessage = { taskId, seq, offset, bytes, data };
      if (eof && seq === lines.length - 1) chunk.eof = true;
      offset += bytes;
      return chunk;
    });
  }

  async function post(
    taskId: string,
    chunk: object,
    /** null: no Authorization header. */
    token: string | null = tokens.logToken(taskId),
  ): Promise<{ status: number; body: unknown }> {
    const res = await fetch(`${base}/api/v1/tasks/${taskId}/logs`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      },
      body: JSON.stringify(chunk),
    });
    return { status: res.status, body: await res.json() };
  }

  async function get(path: string): Promise<{ status: number; type: string | null; text: string }> {
    const res = await fetch(`${base}${path}`);
    return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
  }

  async function storedText(): Promise<string> {
    const rows = await database.db.selectFrom('task_logs').select('text').execute();
    const steps = await database.db.selectFrom('task_steps').select('name').execute();
    return JSON.stringify([rows, steps]);
  }

  it('stores chunks masked, without step markers, and serves the text and the steps', async () => {
    const secret = 'hunter2-the-password';
    const base64 = Buffer.from(secret).toString('base64');
    const { jobId, taskIds } = tasks.job(1, [secret], ['checkout', 'test']);
    const taskId = taskIds[0]!;
    const nonce = tokens.stepNonce(taskId);
    const before = tasks.forIngestCalls;
    const parts = [
      `${stepStartMarker(nonce, 0)}\ncloning\n`,
      `using ${secret}\nas ${base64}\n${stepEndMarker(nonce, 0, '0')}\n`,
      `${stepStartMarker(nonce, 1)}\n::kiln-step-end not-the-nonce 1 0\n`,
      `failed\n${stepEndMarker(nonce, 1, '3')}\n`,
      `a broken ::kiln-step-end ${nonce} 1\n`,
      'no newline at the end',
    ];
    for (const chunk of chunksOf(taskId, parts)) {
      const answer = await post(taskId, chunk);
      expect(answer).toEqual({ status: 200, body: { nextOffset: chunk.offset + chunk.bytes } });
    }
    expect(tasks.forIngestCalls - before).toBe(1);

    const log = await get(`/api/v1/jobs/${jobId}/log`);
    expect(log.status).toBe(200);
    expect(log.type).toBe('text/plain; charset=utf-8');
    expect(log.text).toBe(
      'cloning\nusing ***\nas ***\n::kiln-step-end not-the-nonce 1 0\nfailed\n' +
        'a broken ::kiln-step-end *** 1\nno newline at the end',
    );
    const steps = await get(`/api/v1/jobs/${jobId}/steps`);
    expect(JSON.parse(steps.text)).toEqual([
      {
        idx: 0,
        name: 'checkout',
        firstLine: 1,
        exitCode: 0,
        startedAt: expect.any(String) as unknown,
        finishedAt: expect.any(String) as unknown,
      },
      {
        idx: 1,
        name: 'test',
        firstLine: 4,
        exitCode: 3,
        startedAt: expect.any(String) as unknown,
        finishedAt: expect.any(String) as unknown,
      },
    ]);
    const stored = await storedText();
    expect(stored).not.toContain(secret);
    expect(stored).not.toContain(base64);
    expect(stored).not.toContain(nonce);
  });

  it('cuts a log at its limit with a marker line, and still records the steps after it', async () => {
    const { jobId, taskIds } = tasks.job(1, [], ['build', 'test']);
    const taskId = taskIds[0]!;
    const nonce = tokens.stepNonce(taskId);
    const start0 = `${stepStartMarker(nonce, 0)}\n`;
    const parts = [
      `${start0}${'x'.repeat(39)}\n`,
      `kept ok\ncut here\n${stepEndMarker(nonce, 0, '0')}\n${stepStartMarker(nonce, 1)}\ndropped\n`,
      `${'dropped too\n'.repeat(50)}${stepEndMarker(nonce, 1, '7')}\n`,
    ];
    // Room for the first chunk and 10 bytes of the second: its first line fits, the next not.
    const limit = Buffer.byteLength(start0) + 40 + 10;
    const defaultLimit = config.limitBytes;
    config.limitBytes = limit;
    try {
      for (const chunk of chunksOf(taskId, parts)) {
        expect(await post(taskId, chunk)).toEqual({
          status: 200,
          body: { nextOffset: chunk.offset + chunk.bytes },
        });
      }
    } finally {
      config.limitBytes = defaultLimit;
    }
    const marker = `kiln: the log reached its limit of ${limit} bytes; the rest was dropped\n`;
    expect((await get(`/api/v1/jobs/${jobId}/log`)).text).toBe(
      `${'x'.repeat(39)}\nkept ok\n${marker}`,
    );
    expect(JSON.parse((await get(`/api/v1/jobs/${jobId}/steps`)).text)).toMatchObject([
      { idx: 0, name: 'build', firstLine: 1, exitCode: 0 },
      // It started after the cut: its first line would follow the marker.
      { idx: 1, name: 'test', firstLine: 4, exitCode: 7 },
    ]);
    const rows = await database.db
      .selectFrom('task_logs')
      .select('text')
      .where('task_id', '=', taskId)
      .execute();
    expect(rows.map((row) => row.text).join('')).toBe(`${'x'.repeat(39)}\nkept ok\n${marker}`);
    const { client } = await SseClient.open(`${base}/api/v1/jobs/${jobId}/log/stream`);
    await client.closed;
    expect(client.logText()).toBe(`${'x'.repeat(39)}\nkept ok\n${marker}`);
    expect(client.events.at(-1)).toEqual({ event: 'end', data: { taskId, reason: 'eof' } });
  });

  it('masks a secret that a chunk cut in the middle of a long line splits in two', async () => {
    const secret = 'Sup3r$ecret/Value+With=Chars';
    const { jobId, taskIds } = tasks.job(1, [secret]);
    const taskId = taskIds[0]!;
    const line = `${'x'.repeat(300)} ${secret} end\n`;
    // The agent cut the line in the middle of the secret, as it cuts a line longer than a chunk.
    const first = line.slice(0, line.indexOf(secret) + 9);
    const answer = await post(taskId, {
      taskId,
      seq: 0,
      offset: 0,
      bytes: first.length,
      data: first,
    });
    expect(answer.status).toBe(200);
    const { nextOffset } = answer.body as { nextOffset: number };
    expect(nextOffset).toBeLessThanOrEqual(line.indexOf(secret));
    // An agent that goes on where it stopped is told where the server did.
    const ahead = line.slice(first.length);
    expect(
      await post(taskId, {
        taskId,
        seq: 1,
        offset: first.length,
        bytes: ahead.length,
        data: ahead,
      }),
    ).toEqual({ status: 409, body: { nextOffset } });
    const rest = line.slice(nextOffset);
    const last = { taskId, seq: 2, offset: nextOffset, bytes: rest.length, data: rest, eof: true };
    expect((await post(taskId, last)).status).toBe(200);

    expect((await get(`/api/v1/jobs/${jobId}/log`)).text).toBe(`${'x'.repeat(300)} *** end\n`);
    expect(await storedText()).not.toContain(secret.slice(0, 9));
  });

  it("records a step's end that a chunk cut in the middle of a long line splits in two", async () => {
    // A build that ends a step with a line longer than a chunk, cut where the agent cuts it, so
    // that the marker the script prints after the step falls across the cut.
    const { jobId, taskIds } = tasks.job(1, [], ['build', 'test']);
    const taskId = taskIds[0]!;
    const nonce = tokens.stepNonce(taskId);
    const end = stepEndMarker(nonce, 0, '5');
    const log = `${stepStartMarker(nonce, 0)}\n${'x'.repeat(300)}${end}\n${stepStartMarker(nonce, 1)}\nnext\n`;
    // Past the nonce: the cut falls in the exit code.
    const cut = log.indexOf(end) + end.length - 1;
    const first = log.slice(0, cut);
    const answer = await post(taskId, { taskId, seq: 0, offset: 0, bytes: cut, data: first });
    expect(answer.status).toBe(200);
    const { nextOffset } = answer.body as { nextOffset: number };
    expect(nextOffset).toBeLessThanOrEqual(log.indexOf(end));
    const rest = log.slice(nextOffset);
    const last = { taskId, seq: 1, offset: nextOffset, bytes: rest.length, data: rest, eof: true };
    expect((await post(taskId, last)).status).toBe(200);

    expect(JSON.parse((await get(`/api/v1/jobs/${jobId}/steps`)).text)).toMatchObject([
      { idx: 0, name: 'build', firstLine: 1, exitCode: 5 },
      // The long line ends where its step did, held back or not: the next step's starts anew.
      { idx: 1, name: 'test', firstLine: 2 },
    ]);
    const text = (await get(`/api/v1/jobs/${jobId}/log`)).text;
    expect(text).toBe(`${'x'.repeat(300)}\nnext\n`);
  });

  it("records a step's end cut in two after invalid bytes, which decode longer than they are", async () => {
    const { jobId, taskIds } = tasks.job(1, [], ['build', 'test']);
    const taskId = taskIds[0]!;
    const nonce = tokens.stepNonce(taskId);
    const end = stepEndMarker(nonce, 0, '5');
    // Bytes as the build printed them: 0xFF is no UTF-8, and decodes to U+FFFD (3 bytes).
    const raw = Buffer.concat([
      Buffer.from(`${stepStartMarker(nonce, 0)}\n`),
      Buffer.alloc(5_000, 0xff),
      Buffer.from(`${'x'.repeat(300)}${end}\n${stepStartMarker(nonce, 1)}\nnext\n`),
    ]);
    const markerAt = raw.indexOf(end);
    const cut = markerAt + end.length - 1;
    const first = raw.subarray(0, cut).toString('utf8');
    const answer = await post(taskId, { taskId, seq: 0, offset: 0, bytes: cut, data: first });
    expect(answer).toEqual({ status: 200, body: { nextOffset: markerAt } });
    const rest = raw.subarray(markerAt);
    const last = {
      ...{ taskId, seq: 1, offset: markerAt, bytes: rest.length },
      ...{ data: rest.toString('utf8'), eof: true },
    };
    expect((await post(taskId, last)).status).toBe(200);

    expect(JSON.parse((await get(`/api/v1/jobs/${jobId}/steps`)).text)).toMatchObject([
      { idx: 0, name: 'build', firstLine: 1, exitCode: 5 },
      { idx: 1, name: 'test' },
    ]);
    expect((await get(`/api/v1/jobs/${jobId}/log`)).text).not.toContain('::kiln-step-');
  });

  it('keeps a secret whole when invalid bytes follow it in a held-back end', async () => {
    const secret = 'SuperSecretValue123';
    const { jobId, taskIds } = tasks.job(1, [secret]);
    const taskId = taskIds[0]!;
    const raw = Buffer.concat([
      Buffer.from(`${'x'.repeat(300)}${secret}${'y'.repeat(60)}`),
      Buffer.alloc(37, 0xff),
      Buffer.from(' and the rest\n'),
    ]);
    const cut = raw.length - ' and the rest\n'.length;
    const first = raw.subarray(0, cut).toString('utf8');
    const answer = await post(taskId, { taskId, seq: 0, offset: 0, bytes: cut, data: first });
    // What it held back is the invalid bytes, which could be the start of a form of the secret.
    expect(answer).toEqual({ status: 200, body: { nextOffset: 300 + secret.length + 60 } });
    const from = (answer.body as { nextOffset: number }).nextOffset;
    const rest = raw.subarray(from);
    const last = {
      ...{ taskId, seq: 1, offset: from, bytes: rest.length },
      ...{ data: rest.toString('utf8'), eof: true },
    };
    expect((await post(taskId, last)).status).toBe(200);
    const text = (await get(`/api/v1/jobs/${jobId}/log`)).text;
    expect(text).toBe(
      `${'x'.repeat(300)}***${'y'.repeat(60)}${'\uFFFD'.repeat(37)} and the rest\n`,
    );
  });

  it('stores nothing twice when an overlapping chunk is sent again', async () => {
    const { jobId, taskIds } = tasks.job();
    const taskId = taskIds[0]!;
    await post(taskId, { taskId, seq: 0, offset: 0, bytes: 4, data: 'one\n' });
    await post(taskId, { taskId, seq: 1, offset: 4, bytes: 4, data: 'two\n' });
    // An agent restarted from an older checkpoint: it resends more than was stored.
    const resend = await post(taskId, {
      taskId,
      seq: 1,
      offset: 0,
      bytes: 14,
      data: 'one\ntwo\nthree\n',
    });
    expect(resend).toEqual({ status: 200, body: { nextOffset: 14 } });
    expect(await post(taskId, { taskId, seq: 2, offset: 4, bytes: 4, data: 'two\n' })).toEqual({
      status: 200,
      body: { nextOffset: 14 },
    });
    expect((await get(`/api/v1/jobs/${jobId}/log`)).text).toBe('one\ntwo\nthree\n');
  });

  it('refuses a gap with 409 and the offset it expects', async () => {
    const { taskIds } = tasks.job();
    const taskId = taskIds[0]!;
    await post(taskId, { taskId, seq: 0, offset: 0, bytes: 4, data: 'one\n' });
    expect(await post(taskId, { taskId, seq: 1, offset: 10, bytes: 4, data: 'six\n' })).toEqual({
      status: 409,
      body: { nextOffset: 4 },
    });
  });

  it('refuses a chunk without the token of its task, whatever the body', async () => {
    const { taskIds } = tasks.job(2);
    const [taskId, other] = [taskIds[0]!, taskIds[1]!];
    const chunk = { taskId, seq: 0, offset: 0, bytes: 4, data: 'one\n' };
    for (const token of [null, 'nonsense', tokens.logToken(other)]) {
      const answer = await post(taskId, chunk, token);
      expect(answer.status).toBe(401);
      expect(answer.body).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
    }
    expect((await post(taskId, { bogus: true }, null)).status).toBe(401);
    expect(await app.get(TaskLogsRepository).tail(taskId)).toMatchObject({ nextOffset: 0 });
  });

  it('answers bad chunks with 400 and chunks of unknown tasks with 404', async () => {
    const { taskIds } = tasks.job(2);
    const [taskId, other] = [taskIds[0]!, taskIds[1]!];
    const chunk = { taskId, seq: 0, offset: 0, bytes: 4, data: 'one\n' };
    expect((await post(taskId, { ...chunk, offset: -1 })).status).toBe(400);
    expect((await post(taskId, { ...chunk, extra: 1 })).status).toBe(400);
    expect((await post(taskId, { ...chunk, bytes: 40 })).status).toBe(400);
    // Text past its bytes, which would be stored twice once the next chunk brings it.
    expect(await post(taskId, { ...chunk, bytes: 2 })).toMatchObject({
      status: 400,
      body: { message: 'data is longer than the 2 bytes it covers' },
    });
    // Invalid bytes decode to U+FFFD, three bytes of text for each: not too long.
    const invalid = { taskId, seq: 0, offset: 0, bytes: 3, data: '\uFFFD\uFFFD\n' };
    expect(await post(taskId, invalid)).toEqual({ status: 200, body: { nextOffset: 3 } });
    const mismatch = await post(other, chunk, tokens.logToken(other));
    expect(mismatch).toMatchObject({
      status: 400,
      body: { message: expect.stringMatching(/not of task/) as unknown },
    });
    const unknown = 'task-nobody-knows';
    expect(await post(unknown, { ...chunk, taskId: unknown })).toMatchObject({
      status: 404,
      body: { statusCode: 404, message: `task ${unknown} does not exist` },
    });
  });

  it('takes a chunk of the largest size an agent sends', async () => {
    const { jobId, taskIds } = tasks.job();
    const taskId = taskIds[0]!;
    const data = `${'\u0001'.repeat(256 * 1024 - 1)}\n`;
    expect(await post(taskId, { taskId, seq: 0, offset: 0, bytes: data.length, data })).toEqual({
      status: 200,
      body: { nextOffset: data.length },
    });
    expect((await get(`/api/v1/jobs/${jobId}/log`)).text).toBe(data);
  });

  it('serves an earlier attempt on request, and 404 for an unknown job or attempt', async () => {
    const { jobId, taskIds } = tasks.job(2);
    await post(taskIds[0]!, { taskId: taskIds[0], seq: 0, offset: 0, bytes: 6, data: 'first\n' });
    await post(taskIds[1]!, { taskId: taskIds[1], seq: 0, offset: 0, bytes: 7, data: 'second\n' });
    expect((await get(`/api/v1/jobs/${jobId}/log`)).text).toBe('second\n');
    expect((await get(`/api/v1/jobs/${jobId}/log?attempt=1`)).text).toBe('first\n');
    const missing = await get(`/api/v1/jobs/${jobId}/log?attempt=3`);
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.text)).toMatchObject({
      message: `job ${jobId} has no attempt 3 (it has 2)`,
    });
    expect((await get(`/api/v1/jobs/${jobId}/log?attempt=zero`)).status).toBe(400);
    for (const path of ['log', 'steps', 'log/stream']) {
      const answer = await get(`/api/v1/jobs/nojob/${path}`);
      expect(answer.status).toBe(404);
      expect(JSON.parse(answer.text)).toEqual({
        statusCode: 404,
        error: 'Not Found',
        message: 'job nojob does not exist',
      });
    }
  });

  it('streams every line exactly once in order to followers, replaying while chunks arrive', async () => {
    const { jobId, taskIds } = tasks.job();
    const taskId = taskIds[0]!;
    const nonce = tokens.stepNonce(taskId);
    const lines = Array.from({ length: 120 }, (_, i) => `line ${i + 1}\n`);
    const parts = lines.map((line, i) =>
      i === 60 ? `${stepStartMarker(nonce, 0)}\n${line}` : line,
    );
    const chunks = chunksOf(taskId, parts);

    const early = await SseClient.open(`${base}/api/v1/jobs/${jobId}/log/stream`);
    expect(early.status).toBe(200);
    expect(early.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(early.headers.get('x-accel-buffering')).toBe('no');
    // Give the follower time to subscribe: it must get the first chunk live.
    await new Promise((resolve) => setTimeout(resolve, 200));

    for (const chunk of chunks.slice(0, 80)) await post(taskId, chunk);
    // The next one replays 80 chunks, two per query; chunks are stored (and published) while
    // it does: some surely between two of its queries, the rest meanwhile.
    const repository = app.get(TaskLogsRepository);
    const read = repository.readFromOffset.bind(repository);
    const spy = vi.spyOn(repository, 'readFromOffset').mockImplementation(async (...args) => {
      const page = await read(...args);
      if (spy.mock.calls.length === 2) {
        for (const chunk of chunks.slice(80, 85)) await post(taskId, chunk);
      }
      return page;
    });
    const late = await SseClient.open(`${base}/api/v1/jobs/${jobId}/log/stream`);
    await late.client.waitFor((events) => events.length > 4);
    spy.mockRestore();
    for (const chunk of chunks.slice(85)) await post(taskId, chunk);

    for (const { client } of [early, late]) {
      await client.waitFor((events) => events.some((e) => e.event === 'end'));
      await client.closed;
      expect(client.logText()).toBe(lines.join(''));
      const logs = client.events.filter((e) => e.event === 'log');
      expect(logs.map((e) => Number(e.id))).toEqual(chunks.map((c) => c.offset + c.bytes));
      expect(logs.map((e) => (e.data as { firstLine: number }).firstLine)).toEqual(
        lines.map((_, i) => i + 1),
      );
      expect(client.events.filter((e) => e.event === 'step')).toEqual([
        {
          event: 'step',
          data: expect.objectContaining({
            taskId,
            idx: 0,
            name: 'step 0',
            firstLine: 61,
          }) as unknown,
        },
      ]);
      expect(client.events.at(-1)).toEqual({ event: 'end', data: { taskId, reason: 'eof' } });
    }
  });

  it('resumes after Last-Event-ID', async () => {
    const { jobId, taskIds } = tasks.job();
    const taskId = taskIds[0]!;
    for (const chunk of chunksOf(taskId, ['a\n', 'b\n', 'c\n'])) await post(taskId, chunk);
    const { client } = await SseClient.open(`${base}/api/v1/jobs/${jobId}/log/stream?from=0`, {
      'last-event-id': '2',
    });
    await client.closed;
    expect(client.logText()).toBe('b\nc\n');
    const bad = await SseClient.open(`${base}/api/v1/jobs/${jobId}/log/stream`, {
      'last-event-id': 'x1',
    });
    expect(bad.status).toBe(400);
  });

  it('ends the stream when the job has ended and its task stays silent', async () => {
    const { jobId, taskIds } = tasks.job();
    const taskId = taskIds[0]!;
    await post(taskId, { taskId, seq: 0, offset: 0, bytes: 8, data: 'partial\n' });
    const { client } = await SseClient.open(`${base}/api/v1/jobs/${jobId}/log/stream`);
    await client.waitFor((events) => events.length > 0);
    tasks.jobs.get(jobId)!.ended = true;
    await client.closed;
    expect(client.logText()).toBe('partial\n');
    expect(client.events.at(-1)).toEqual({ event: 'end', data: { taskId, reason: 'job-ended' } });
  });

  it('waits for the first attempt of a job that has none yet', async () => {
    const jobId = `job-${randomUUID()}`;
    tasks.jobs.set(jobId, { taskIds: [], ended: false });
    const { client } = await SseClient.open(`${base}/api/v1/jobs/${jobId}/log/stream`);
    const taskId = `task-${randomUUID()}`;
    tasks.tasks.set(taskId, { secrets: [], stepNames: [] });
    tasks.jobs.get(jobId)!.taskIds.push(taskId);
    await new Promise((resolve) => setTimeout(resolve, 600));
    await post(taskId, { taskId, seq: 0, offset: 0, bytes: 5, data: 'done\n', eof: true });
    await client.closed;
    expect(client.logText()).toBe('done\n');
    expect((await get(`/api/v1/jobs/${jobId}/steps`)).text).toBe('[]');
  });

  it('waits for the task of a named attempt that is queued and not launched yet', async () => {
    // The web UI opens a queued job's log by its attempt number, before the job has a task.
    const jobId = `job-${randomUUID()}`;
    tasks.jobs.set(jobId, { taskIds: [undefined], ended: false });
    const opened = await SseClient.open(`${base}/api/v1/jobs/${jobId}/log/stream?attempt=1`);
    expect(opened.status).toBe(200);
    const taskId = `task-${randomUUID()}`;
    tasks.tasks.set(taskId, { secrets: [], stepNames: [] });
    tasks.jobs.get(jobId)!.taskIds[0] = taskId;
    await post(taskId, { taskId, seq: 0, offset: 0, bytes: 5, data: 'done\n', eof: true });
    await opened.client.closed;
    expect(opened.client.logText()).toBe('done\n');
    expect(opened.client.events.at(-1)).toEqual({ event: 'end', data: { taskId, reason: 'eof' } });
  });

  it('serves each attempt its own log when an earlier attempt never launched a task', async () => {
    const jobId = `job-${randomUUID()}`;
    const taskId = `task-${randomUUID()}`;
    tasks.tasks.set(taskId, { secrets: [], stepNames: [] });
    tasks.jobs.set(jobId, { taskIds: [undefined, taskId], ended: true });
    await post(taskId, { taskId, seq: 0, offset: 0, bytes: 7, data: 'second\n', eof: true });
    expect((await get(`/api/v1/jobs/${jobId}/log?attempt=2`)).text).toBe('second\n');
    expect((await get(`/api/v1/jobs/${jobId}/log`)).text).toBe('second\n');
    expect((await get(`/api/v1/jobs/${jobId}/log?attempt=1`)).text).toBe('');
    const { client } = await SseClient.open(`${base}/api/v1/jobs/${jobId}/log/stream?attempt=1`);
    await client.closed;
    expect(client.events).toEqual([{ event: 'end', data: { taskId: null, reason: 'job-ended' } }]);
  });

  it('ends the stream of an attempt that the job left before it launched a task', async () => {
    const jobId = `job-${randomUUID()}`;
    tasks.jobs.set(jobId, { taskIds: [undefined], ended: false });
    const { client } = await SseClient.open(`${base}/api/v1/jobs/${jobId}/log/stream?attempt=1`);
    tasks.jobs.get(jobId)!.taskIds.push(undefined);
    await client.closed;
    expect(client.events).toEqual([{ event: 'end', data: { taskId: null, reason: 'retried' } }]);
  });
});
