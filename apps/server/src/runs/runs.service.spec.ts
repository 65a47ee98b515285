import { strict } from '@kiln/common/testing';
import type { Run } from '@kiln/persistence';
import { ServiceUnavailableException } from '@nestjs/common';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RunsService } from './runs.service';

const run = { id: 'run-1', number: 7, repositoryId: 'repo-1', state: 'pending' } as Run;
const input = { repositoryId: 'repo-1', event: 'manual', ref: 'r', sha: 's', fromFork: false };

/** The service with the collaborators run creation uses; any other call throws. */
function service(queues: object, discarded: boolean[] = []): RunsService {
  const runs = {
    create: () => Promise.resolve({ run }),
    discardPending: (id: string) => {
      expect(id).toBe(run.id);
      return Promise.resolve(discarded.shift() ?? true);
    },
  };
  const none = (name: string) => strict<never>(name, {});
  return new RunsService(
    strict('RunsRepository', runs),
    none('JobsRepository'),
    strict('PipelineQueues', queues),
    none('RunProgressService'),
    none('BuildFrameworkService'),
    none('GitMirror'),
    none('SecretBox'),
    none('PromotionsRepository'),
    none('AuditLog'),
    none('RepositoriesRepository'),
    none('AccountsRepository'),
  );
}

describe(RunsService.name, () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('creates nothing and answers 503 while the queues are not ready', async () => {
    const create = service({ ready: () => Promise.resolve(false) }).create(input as never);
    await expect(create).rejects.toBeInstanceOf(ServiceUnavailableException);
  });

  it('removes the run again and answers 503 when its trigger is not queued in time', async () => {
    const queues = { ready: () => Promise.resolve(true), trigger: () => new Promise(() => {}) };
    const created = service(queues).create(input as never);
    const settled = expect(created).rejects.toThrow(/no run was created/);
    await vi.advanceTimersByTimeAsync(3_000);
    await settled;
  });

  it('keeps a run whose trigger ran after all, though queuing it seemed to fail', async () => {
    const queues = {
      ready: () => Promise.resolve(true),
      trigger: () => Promise.reject(new Error('Connection is closed.')),
    };
    await expect(service(queues, [false]).create(input as never)).resolves.toEqual({ run });
  });
});
