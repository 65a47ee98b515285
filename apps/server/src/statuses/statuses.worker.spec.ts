import { deferred } from '@kiln/common';
import { strict } from '@kiln/common/testing';
import type { RepositoriesRepository, Repository, Run, RunsRepository } from '@kiln/persistence';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { IntakePressureService } from '../intake/intake-pressure.service';
import type { SecretBox } from '../secrets/secret-box';
import type { ServerUrl } from '../server-url';
import type { CommitStatus } from '@kiln/scm';
import type { CommitStatuses } from './commit-statuses';
import { StatusesWorker } from './statuses.worker';

const RUN = {
  id: '6f0c5a9e-2f1b-4c41-9a57-2d7f0e3b8c11',
  repositoryId: 'repo-1',
  sha: 'a'.repeat(40),
  number: 7,
  state: 'success',
} as Run;
const REPOSITORY = {
  id: 'repo-1',
  forge: 'github',
  fullName: 'acme/app',
  cloneUrl: 'https://forge.test/acme/app.git',
  apiUrl: 'https://forge.test/api',
} as Repository;

/** Redis as the worker uses it: a string per key, and the rank script's compare-and-raise. */
class FakeRedis {
  readonly values = new Map<string, string>();
  get(key: string): Promise<string | null> {
    return Promise.resolve(this.values.get(key) ?? null);
  }
  set(key: string, value: string): Promise<'OK'> {
    this.values.set(key, value);
    return Promise.resolve('OK');
  }
  eval(_script: string, _keys: number, key: string, rank: string): Promise<number> {
    if (Number(rank) <= Number(this.values.get(key) ?? -1)) return Promise.resolve(0);
    this.values.set(key, rank);
    return Promise.resolve(1);
  }
}

describe(StatusesWorker.name, () => {
  it("shows a run's last state on the forge when two of its states are reported at once", async () => {
    // What the forge shows: the state whose request reached it last.
    const shown: string[] = [];
    const slowRunning = deferred<void>();
    const statuses = strict<CommitStatuses>('CommitStatuses', {
      apiUrl: () => 'https://forge.test/api',
      send: async (_target: unknown, status: CommitStatus) => {
        if (status.state === 'running') await slowRunning.promise;
        shown.push(status.state);
      },
    });
    const worker = new StatusesWorker(
      strict<RunsRepository>('RunsRepository', { findById: () => Promise.resolve(RUN) }),
      strict<RepositoriesRepository>('RepositoriesRepository', {
        findById: () => Promise.resolve(REPOSITORY),
      }),
      statuses,
      strict<SecretBox>('SecretBox', {}),
      strict<ServerUrl>('ServerUrl', { resolve: (path: string) => `https://kiln.test${path}` }),
      new FakeRedis() as unknown as Redis,
      strict<IntakePressureService>('IntakePressureService', { yields: () => undefined }),
    );
    const job = (state: string) => ({ data: { runId: RUN.id, state } }) as Job<unknown>;

    // The queue hands both out at once (concurrency 16): running's request is the slower.
    const running = worker.process(job('running'));
    const success = worker.process(job('success'));
    await new Promise((resolve) => setImmediate(resolve));
    slowRunning.resolve();
    await Promise.all([running, success]);

    expect(shown.at(-1)).toBe('success');
  });
});
