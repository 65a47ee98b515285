import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TaskStore, type TaskCheckpoint } from '../tasks/task-store';
import { FakeLogSink } from './fake-log-sink';
import { LogShipping } from './log-shipping';

const TUNING = { pollMs: 20, retryBaseMs: 10, retryMaxMs: 50 };

describe(LogShipping.name, () => {
  let dataDir: string;
  let file: string;
  let sink: FakeLogSink;
  const shippings: LogShipping[] = [];

  function checkpointOf(logSink = sink.sink): TaskCheckpoint {
    return {
      frameworkId: 'fw',
      role: 'ci',
      taskInfo: {
        taskId: 'task-1',
        name: 'build',
        command: { shell: true, value: 'true' },
        resources: { cpus: 1, mem: 64, disk: 0, ports: [] },
        logSink,
      },
      state: 'TASK_RUNNING',
      containerizer: 'process',
      pending: [],
    };
  }

  function shipping(store: TaskStore): LogShipping {
    const logs = new LogShipping(store, TUNING);
    shippings.push(logs);
    return logs;
  }

  function loaded(store: TaskStore): TaskCheckpoint | undefined {
    return store.loadAll(() => undefined).find((c) => c.taskInfo.taskId === 'task-1');
  }

  beforeEach(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'kiln-log-shipping-'));
    file = join(dataDir, 'stdout');
    sink = await FakeLogSink.start();
  });

  afterEach(async () => {
    await Promise.all(shippings.splice(0).map((s) => s.stop()));
    await sink.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('resumes after a restart from the cursor kept in the task checkpoint', async () => {
    const store = new TaskStore(dataDir);
    writeFileSync(file, 'before the restart\n');
    const first = shipping(store);
    const checkpoint = checkpointOf();
    first.start(checkpoint, file);
    await vi.waitFor(() => expect(checkpoint.log?.offset).toBe(19));
    await first.stop();
    expect(loaded(store)?.log).toEqual({ offset: 19, seq: 1 });

    appendFileSync(file, 'after it\n');
    const recovered = loaded(store)!;
    const second = shipping(store);
    second.start(recovered, file);
    await second.end('task-1', 10_000);
    expect(sink.text).toBe('before the restart\nafter it\n');
    expect(sink.chunks[1]).toMatchObject({ seq: 1, offset: 19, data: 'after it\n' });
    expect(sink.complete).toBe(true);
    await second.stop();
    expect(loaded(store)?.log).toMatchObject({ offset: 28, done: true });
  });

  it('does not ship again a log the sink already has whole', async () => {
    writeFileSync(file, 'all of it\n');
    const logs = shipping(new TaskStore(dataDir));
    logs.start({ ...checkpointOf(), log: { offset: 10, seq: 1, done: true } }, file);
    await logs.end('task-1', 10_000);
    expect(sink.chunks).toEqual([]);
  });

  it('leaves a task without a log sink alone', async () => {
    writeFileSync(file, 'local only\n');
    const logs = shipping(new TaskStore(dataDir));
    const checkpoint = checkpointOf();
    delete checkpoint.taskInfo.logSink;
    logs.start(checkpoint, file);
    await logs.end('task-1', 10_000);
    expect(sink.chunks).toEqual([]);
  });

  it('writes no checkpoint once the task is released: its checkpoint is gone for good', async () => {
    const store = new TaskStore(dataDir);
    writeFileSync(file, 'line\n');
    const logs = shipping(store);
    logs.start(checkpointOf(), file);
    await store.remove('task-1');
    await logs.release('task-1', 10_000);
    await logs.stop();
    expect(sink.complete).toBe(true);
    expect(loaded(store)).toBeUndefined();
  });

  it('reports the end after a bounded wait when the sink is unreachable', async () => {
    writeFileSync(file, 'line\n');
    const logs = shipping(new TaskStore(dataDir));
    logs.start(checkpointOf({ url: 'http://127.0.0.1:1/logs', token: 't' }), file);
    await expect(logs.end('task-1', 200)).resolves.toBeUndefined();
  });
});
