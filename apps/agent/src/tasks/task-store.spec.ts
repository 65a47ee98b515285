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
    expect(written.map((f) => f.path).sort()).toEqual(['checkpoint.key', 'tasks/journal']);
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

  it("reads an older agent's file per task, in clear or sealed, into the journal, sealed", async () => {
    const older = new TaskStore(dataDir);
    const tasks = join(dataDir, 'meta', 'tasks');
    // A sealed one, as the agent of the last release wrote it.
    await older.save(checkpointOf('task-2'));
    const journal = readFileSync(join(tasks, 'journal'), 'utf8');
    const line = journal.split('\n').find((l) => l.includes('task-2')) ?? '';
    writeFileSync(join(tasks, 'task-1.json'), JSON.stringify(checkpointOf('task-1')), {
      mode: 0o644,
    });
    writeFileSync(
      join(tasks, 'task-2.json'),
      JSON.stringify((JSON.parse(line) as { sealed: object }).sealed),
    );
    rmSync(join(tasks, 'journal'));

    const { checkpoints, corrupt } = loadAll(new TaskStore(dataDir));
    expect(corrupt).toEqual([]);
    expect(checkpoints.map((c) => c.taskInfo.taskId).sort()).toEqual(['task-1', 'task-2']);
    expect(readdirSync(tasks)).toEqual(['journal']);
    expect(readFileSync(join(tasks, 'journal'), 'utf8')).not.toContain(SECRET);
    expect(loadAll(new TaskStore(dataDir)).checkpoints).toHaveLength(2);
  });

  it('skips, and reports, a checkpoint tampered with or passed off as another task', async () => {
    const store = new TaskStore(dataDir);
    await store.save(checkpointOf('task-1'));
    await store.save(checkpointOf('task-2'));
    const file = join(dataDir, 'meta', 'tasks', 'journal');
    const [one] = readFileSync(file, 'utf8').split('\n');
    const entry = JSON.parse(one ?? '') as { taskId: string; sealed: { data: string } };
    const data = Buffer.from(entry.sealed.data, 'base64');
    data[0] = (data[0] ?? 0) ^ 1;
    const tampered = { ...entry, sealed: { ...entry.sealed, data: data.toString('base64') } };
    // task-1's sealed checkpoint passed off as task-2's, and a flipped bit in task-1's.
    const lines = [JSON.stringify({ ...entry, taskId: 'task-2' }), JSON.stringify(tampered)];
    writeFileSync(file, `${lines.join('\n')}\n`);
    const { checkpoints, corrupt } = loadAll(new TaskStore(dataDir));
    expect(checkpoints).toEqual([]);
    expect(corrupt.sort()).toEqual(['task-1', 'task-2']);
  });

  it('commits the saves of one tick with one write, and keeps the latest of each task', async () => {
    const store = new TaskStore(dataDir);
    await Promise.all([
      store.save(checkpointOf('task-1')),
      store.save(checkpointOf('task-2')),
      store.save({ ...checkpointOf('task-1'), state: 'TASK_RUNNING' }),
    ]);
    const journal = readFileSync(join(dataDir, 'meta', 'tasks', 'journal'), 'utf8');
    expect(journal.trim().split('\n')).toHaveLength(2);
    await store.remove('task-2');
    const { checkpoints } = loadAll(new TaskStore(dataDir));
    expect(checkpoints).toEqual([{ ...checkpointOf('task-1'), state: 'TASK_RUNNING' }]);
  });

  it('skips a line cut short by a crash and keeps every whole one', async () => {
    const store = new TaskStore(dataDir);
    await store.save(checkpointOf('task-1'));
    const file = join(dataDir, 'meta', 'tasks', 'journal');
    writeFileSync(file, `${readFileSync(file, 'utf8')}{"taskId":"task-2","sealed":{"sea`);
    const { checkpoints, corrupt } = loadAll(new TaskStore(dataDir));
    expect(checkpoints).toEqual([checkpointOf('task-1')]);
    expect(corrupt).toEqual(['journal line 2']);
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
    expect(loadAll(new TaskStore(dataDir))).toEqual({ checkpoints: [], corrupt: ['task-1'] });
  });
});
