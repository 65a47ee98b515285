import { describe, expect, it } from 'vitest';
import type { Job, RunDetails } from './api-types';
import { ApiError } from './errors';
import { jobPlan } from './testing/fixtures';
import { diffRun, watchRun, type WatchChange } from './watch';

const at = new Date('2025-01-10T12:00:00Z');

function run(state: RunDetails['state'], jobs: Partial<Job>[]): RunDetails {
  return {
    id: 'r1',
    repositoryId: 'repo',
    number: 7,
    state,
    event: 'push',
    fromFork: false,
    ref: 'refs/heads/main',
    sha: 'a'.repeat(40),
    createdAt: at.toISOString(),
    jobs: jobs.map((job, i) => ({
      id: `j${i}`,
      runId: 'r1',
      key: `job${i}`,
      state: 'queued',
      attempt: 1,
      plan: jobPlan(`job${i}`),
      earlierTaskIds: [],
      attempts: [],
      createdAt: at.toISOString(),
      ...job,
    })),
  };
}

describe(diffRun.name, () => {
  it('reports everything on the first look, the run first while it goes on', () => {
    const changes = diffRun(undefined, run('running', [{ state: 'running' }, {}]), at);
    expect(changes.map((c) => [c.kind, c.from, c.to])).toEqual([
      ['run', null, 'running'],
      ['job', null, 'running'],
      ['job', null, 'queued'],
    ]);
  });

  it('reports only what changed, a job retried or a new reason too, and an ended run last', () => {
    const before = run('running', [{ state: 'running' }, { state: 'queued' }]);
    expect(diffRun(before, before, at)).toEqual([]);
    const after = run('failure', [
      { state: 'failure', exitCode: 2 },
      { state: 'queued', statusMessage: 'waiting for 2 cpus' },
    ]);
    const changes = diffRun(before, after, at);
    expect(changes).toEqual<WatchChange[]>([
      {
        kind: 'job',
        runId: 'r1',
        jobId: 'j0',
        key: 'job0',
        from: 'running',
        to: 'failure',
        attempt: 1,
        exitCode: 2,
        at: at.toISOString(),
      },
      {
        kind: 'job',
        runId: 'r1',
        jobId: 'j1',
        key: 'job1',
        from: 'queued',
        to: 'queued',
        attempt: 1,
        statusMessage: 'waiting for 2 cpus',
        at: at.toISOString(),
      },
      { kind: 'run', runId: 'r1', number: 7, from: 'running', to: 'failure', at: at.toISOString() },
    ]);
    const retried = run('failure', [
      { state: 'failure', exitCode: 2 },
      { state: 'queued', statusMessage: 'waiting for 2 cpus', attempt: 2 },
    ]);
    expect(diffRun(after, retried, at).map((c) => c.kind === 'job' && c.attempt)).toEqual([2]);
  });
});

describe(watchRun.name, () => {
  const options = (changes: WatchChange[], notes: boolean[] = []) => ({
    intervalMs: 1,
    now: () => new Date(),
    sleep: () => Promise.resolve(),
    onChange: (change: WatchChange) => changes.push(change),
    onConnection: (lost: boolean) => notes.push(lost),
  });

  it('polls until the run ends and resolves with it', async () => {
    const looks = [
      run('pending', []),
      run('running', [{ state: 'running' }]),
      run('success', [{ state: 'success' }]),
    ];
    const changes: WatchChange[] = [];
    const ended = await watchRun(() => Promise.resolve(looks.shift()!), options(changes));
    expect(ended.state).toBe('success');
    expect(changes.map((c) => `${c.kind}:${c.to}`)).toEqual([
      'run:pending',
      'run:running',
      'job:running',
      'job:success',
      'run:success',
    ]);
  });

  it('waits out a server that is briefly away, but not a 404', async () => {
    const answers: (RunDetails | ApiError)[] = [
      run('running', []),
      new ApiError('cannot reach', undefined),
      new ApiError('bad gateway', 502),
      run('success', []),
    ];
    const notes: boolean[] = [];
    const get = (): Promise<RunDetails> => {
      const next = answers.shift()!;
      return next instanceof ApiError ? Promise.reject(next) : Promise.resolve(next);
    };
    await expect(watchRun(get, options([], notes))).resolves.toMatchObject({ state: 'success' });
    expect(notes).toEqual([true, false]);
    const missing = new ApiError('run r1 does not exist', 404);
    await expect(watchRun(() => Promise.reject(missing), options([]))).rejects.toBe(missing);
  });

  it('gives up once the server has been away longer than its patience', async () => {
    let clock = 0;
    const away = new ApiError('cannot reach', undefined);
    const watching = watchRun(() => Promise.reject(away), {
      ...options([]),
      patienceMs: 1_000,
      now: () => new Date((clock += 400)),
    });
    await expect(watching).rejects.toBe(away);
  });
});
