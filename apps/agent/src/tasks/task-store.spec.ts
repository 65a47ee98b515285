import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TaskStore, type TaskCheckpoint } from './task-store';

const SECRET = 'sup3r-s3cret-deploy-key';
const LOG_TOKEN = 'log-token-0123456789';
const GIT_PASSWORD = 'forge-token-abcdef';

function checkpointOf(taskId = 'task-1'): TaskCheckpoint {
  return {
    frameworkId: 'fw',
    role: 'ci',
    taskInfo: {
      taskId,
      name: 'build',
      command: { shell: true, value: 'make', environment: { DEPLOY_KEY: SECRET } },
      resources: { cpus: 1, mem: 64, disk: 0, ports: [] },
      source: {
        url: 'https://forge.test/acme/app.git',
        sha: 'c'.repeat(40),
        password: GIT_PASSWORD,
      },
      logSink: { url: 'http://kiln.test/logs', token: LOG_TOKEN },
    },
    state: 'TASK_RUNNING',
    containerizer: 'docker',
    pending: [],
  };
}

/** Every file under `dir`, with its mode. */
function files(dir: string): { path: string; mode: number; dir: boolean }[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((name) => {
    const stat = statSync(join(dir, name));
    return { path: name, mode: stat.mode & 0o777, dir: stat.isDirectory() };
  });
}

describe(TaskStore.name, () => {
  let dataDir: string;

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'kiln-task-store-'));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  const loadAll = (store: TaskStore) => {
    const corrupt: string[] = [];
    const checkpoints = store.loadAll((file) => corrupt.push(file));
    return { checkpoints, corrupt };
  };

  it('keeps no secret, token or credential on disk in clear', async () => {
    await new TaskStore(dataDir).save(checkpointOf());
    const meta = join(dataDir, 'meta');
    const written = files(meta).filter((f) => !f.dir);
    expect(written.map((f) => f.path).sort()).toEqual(['checkpoint.key', 'tasks/task-1.json']);
    for (const { path } of written) {
      const bytes = readFileSync(join(meta, path));
      for (const value of [SECRET, LOG_TOKEN, GIT_PASSWORD, 'DEPLOY_KEY']) {
        expect(bytes.includes(value), `${value} in ${path}`).toBe(false);
        expect(bytes.includes(Buffer.from(value).toString('base64'))).toBe(false);
      }
    }
  });

  it("keeps the agent's files readable by root only: directories 0700, files 0600", async () => {
    // As an older agent under a lax umask left them.
    mkdirSync(join(dataDir, 'meta', 'tasks'), { recursive: true, mode: 0o755 });
    chmodSync(join(dataDir, 'meta'), 0o755);
    await new TaskStore(dataDir).save(checkpointOf());
    for (const file of files(join(dataDir, 'meta'))) {
      expect({ path: file.path, mode: file.mode.toString(8) }).toEqual({
        path: file.path,
        mode: file.dir ? '700' : '600',
      });
    }
    expect((statSync(join(dataDir, 'meta')).mode & 0o777).toString(8)).toBe('700');
  });

  it('gives a restarted agent its checkpoints back whole', async () => {
    const first = new TaskStore(dataDir);
    await first.save(checkpointOf('task-1'));
    await first.save({ ...checkpointOf('task-2'), state: 'TASK_FINISHED' });
    const { checkpoints, corrupt } = loadAll(new TaskStore(dataDir));
    expect(corrupt).toEqual([]);
    expect(checkpoints.sort((a, b) => a.taskInfo.taskId.localeCompare(b.taskInfo.taskId))).toEqual([
      checkpointOf('task-1'),
      { ...checkpointOf('task-2'), state: 'TASK_FINISHED' },
    ]);
  });

  it("reads an older agent's clear checkpoint and seals it at once", () => {
    const store = new TaskStore(dataDir);
    const file = join(dataDir, 'meta', 'tasks', 'task-1.json');
    writeFileSync(file, JSON.stringify(checkpointOf()), { mode: 0o644 });
    expect(loadAll(store).checkpoints).toEqual([checkpointOf()]);
    expect(readFileSync(file, 'utf8')).not.toContain(SECRET);
    expect((statSync(file).mode & 0o777).toString(8)).toBe('600');
    expect(loadAll(new TaskStore(dataDir)).checkpoints).toEqual([checkpointOf()]);
  });

  it('skips, and reports, a checkpoint tampered with or passed off as another task', async () => {
    const store = new TaskStore(dataDir);
    await store.save(checkpointOf('task-1'));
    await store.save(checkpointOf('task-2'));
    const tasks = join(dataDir, 'meta', 'tasks');
    // task-1's sealed file under task-2's name.
    writeFileSync(join(tasks, 'task-2.json'), readFileSync(join(tasks, 'task-1.json')));
    const sealed = JSON.parse(readFileSync(join(tasks, 'task-1.json'), 'utf8')) as { data: string };
    const data = Buffer.from(sealed.data, 'base64');
    data[0] = (data[0] ?? 0) ^ 1;
    writeFileSync(
      join(tasks, 'task-1.json'),
      JSON.stringify({ ...sealed, data: data.toString('base64') }),
    );
    const { checkpoints, corrupt } = loadAll(new TaskStore(dataDir));
    expect(checkpoints).toEqual([]);
    expect(corrupt.sort()).toEqual(['task-1.json', 'task-2.json']);
  });

  it('makes its key whole even after a crash half-way through making it', async () => {
    mkdirSync(join(dataDir, 'meta'), { recursive: true });
    writeFileSync(join(dataDir, 'meta', 'checkpoint.key.tmp'), 'half');
    const store = new TaskStore(dataDir);
    await store.save(checkpointOf());
    expect(readFileSync(join(dataDir, 'meta', 'checkpoint.key'))).toHaveLength(32);
    expect(readdirSync(join(dataDir, 'meta')).sort()).toEqual(['checkpoint.key', 'tasks']);
    expect(loadAll(new TaskStore(dataDir)).checkpoints).toEqual([checkpointOf()]);
  });

  it('cannot read checkpoints without the key they were sealed with', async () => {
    await new TaskStore(dataDir).save(checkpointOf());
    rmSync(join(dataDir, 'meta', 'checkpoint.key'));
    expect(loadAll(new TaskStore(dataDir))).toEqual({ checkpoints: [], corrupt: ['task-1.json'] });
  });
});
