import type { TaskState, TaskStatus } from '@kiln/contracts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { StatusUpdateManager } from './status-update-manager';
import { TaskStore, type TaskCheckpoint } from './task-store';

describe(StatusUpdateManager.name, () => {
  let dataDir: string;
  let store: TaskStore;
  let sent: { state: TaskState; latestState: TaskState; uuid: string }[];
  let done: string[];
  let manager: StatusUpdateManager;

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'kiln-status-updates-'));
    store = new TaskStore(dataDir);
    sent = [];
    done = [];
    manager = new StatusUpdateManager(
      store,
      (_, status, latestState) =>
        sent.push({ state: status.state, latestState, uuid: status.uuid ?? '' }),
      (checkpoint) => done.push(checkpoint.taskInfo.taskId),
    );
    manager.setConnected(true);
    manager.track(checkpointOf('task-1'));
  });

  afterEach(() => {
    manager.stop();
    vi.useRealTimers();
    rmSync(dataDir, { recursive: true, force: true });
  });

  function checkpointOf(taskId: string): TaskCheckpoint {
    return {
      frameworkId: 'fw',
      role: 'ci',
      taskInfo: {
        taskId,
        name: taskId,
        command: { shell: true, value: 'true' },
        resources: { cpus: 1, mem: 64, disk: 0, ports: [] },
      },
      state: 'TASK_STAGING',
      containerizer: 'process',
      pending: [],
    };
  }

  function status(state: TaskState): TaskStatus {
    return { taskId: 'task-1', state, source: 'AGENT', uuid: `${state}-uuid`, timestamp: 1 };
  }

  it('sends each update once durable without waiting for the previous one to be acknowledged', async () => {
    await manager.update('task-1', status('TASK_STARTING'));
    await manager.update('task-1', status('TASK_RUNNING'));
    await manager.update('task-1', status('TASK_FINISHED'));
    expect(sent.map((s) => s.state)).toEqual(['TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED']);
    // Each carries what the task is now, so the master can free it at the first word of its end.
    expect(sent.at(-1)?.latestState).toBe('TASK_FINISHED');
    expect(store.loadAll(() => undefined)[0]?.pending).toHaveLength(3);
  });

  it('settles every earlier update with the acknowledgement of a later one, then forgets the task', async () => {
    await manager.update('task-1', status('TASK_RUNNING'));
    await manager.update('task-1', status('TASK_FINISHED'));
    manager.acknowledged('task-1', 'TASK_FINISHED-uuid');
    expect(done).toEqual(['task-1']);
    expect(manager.get('task-1')).toBeUndefined();
    await vi.waitFor(() => expect(store.loadAll(() => undefined)).toEqual([]));
  });

  it('sends everything unacknowledged again, in order, after a reconnection', async () => {
    await manager.update('task-1', status('TASK_RUNNING'));
    await manager.update('task-1', status('TASK_FINISHED'));
    manager.acknowledged('task-1', 'TASK_RUNNING-uuid');
    sent = [];
    manager.setConnected(false);
    manager.setConnected(true);
    expect(sent.map((s) => s.state)).toEqual(['TASK_FINISHED']);
  });

  it('sends again what no acknowledgement came for, after a backoff', async () => {
    // Only the retry timer is faked: the store commits on setImmediate.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    await manager.update('task-1', status('TASK_RUNNING'));
    sent = [];
    await vi.advanceTimersByTimeAsync(5_000);
    expect(sent.map((s) => s.state)).toContain('TASK_RUNNING');
  });

  it('ignores an acknowledgement it has already had', async () => {
    await manager.update('task-1', status('TASK_RUNNING'));
    manager.acknowledged('task-1', 'TASK_RUNNING-uuid');
    manager.acknowledged('task-1', 'TASK_RUNNING-uuid');
    expect(manager.get('task-1')?.pending).toEqual([]);
    expect(done).toEqual([]);
  });
});
