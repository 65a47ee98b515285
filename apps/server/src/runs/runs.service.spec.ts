import { strict } from '@kiln/common/testing';
import type { CreateRunResult, NewRun, Run, RunToCreate } from '@kiln/persistence';
import { ServiceUnavailableException } from '@nestjs/common';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RunsService } from './runs.service';

const run = { id: 'run-1', number: 7, repositoryId: 'repo-1', state: 'pending' } as Run;
const input = { repositoryId: 'repo-1', event: 'manual', ref: 'r', sha: 's', fromFork: false };

/** Runs as the repository records them, each batch in one transaction; counts the batches. */
class FakeRuns {
  readonly sizes: number[] = [];

  /** `answer` throws for a run that cannot be recorded: its whole batch fails. */
  constructor(private readonly answer: (input: NewRun) => Run = () => run) {}

  createAll(entries: ReadonlyArray<RunToCreate>): Promise<CreateRunResult[]> {
    this.sizes.push(entries.length);
    return Promise.resolve().then(() => entries.map(({ input }) => ({ run: this.answer(input) })));
  }
}

/** A run of its own for each commit. */
const ownRun = (input: NewRun): Run => ({ ...run, id: `run-${input.sha}` });

/** The service with the collaborators run creation uses; any other call throws. */
function service(
  queues: object,
  discarded: boolean[] = [],
  recorded = new FakeRuns(),
): RunsService {
  const runs = {
    createAll: recorded.createAll.bind(recorded),
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
  // Timeouts only: runs created at once are gathered until the next turn (setImmediate).
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] }));
  afterEach(() => vi.useRealTimers());

  it('creates nothing and answers 503 while the queues are not ready', async () => {
    const create = service({ ready: () => Promise.resolve(false) }).create(input as never);
    await expect(create).rejects.toBeInstanceOf(ServiceUnavailableException);
  });

  it('removes the run again and answers 503 when its trigger is not queued in time', async () => {
    let asked = false;
    const queues = {
      ready: () => Promise.resolve(true),
      trigger: () => {
        asked = true;
        return new Promise(() => {});
      },
    };
    const created = service(queues).create(input as never);
    const settled = expect(created).rejects.toThrow(/no run was created/);
    await vi.waitFor(() => expect(asked).toBe(true));
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

  it('records the runs created at once in one transaction, each answered with its own', async () => {
    const recorded = new FakeRuns(ownRun);
    const queued: string[] = [];
    const queues = {
      ready: () => Promise.resolve(true),
      trigger: (runId: string) => Promise.resolve(void queued.push(runId)),
    };
    const runs = service(queues, [], recorded);

    const results = await Promise.all(
      ['a', 'b', 'c'].map((sha) => runs.create({ ...input, sha } as never)),
    );

    expect(recorded.sizes).toEqual([3]);
    expect(results.map((r) => 'run' in r && r.run.id)).toEqual(['run-a', 'run-b', 'run-c']);
    expect(queued).toEqual(['run-a', 'run-b', 'run-c']);
  });

  it('records a failed batch again one run at a time: only the run that fails fails', async () => {
    const recorded = new FakeRuns((input) => {
      if (input.sha === 'bad') throw new Error('no such repository');
      return ownRun(input);
    });
    const queues = { ready: () => Promise.resolve(true), trigger: () => Promise.resolve() };
    const runs = service(queues, [], recorded);

    const results = await Promise.allSettled(
      ['a', 'bad', 'c'].map((sha) => runs.create({ ...input, sha } as never)),
    );

    expect(recorded.sizes).toEqual([3, 1, 1, 1]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });

  it('starts the failed jobs again before the run: a run seen running with every job ended would end', async () => {
    const ended = { ...run, state: 'failure', event: 'push' } as Run;
    const failed = { id: 'job-a', runId: run.id, key: 'a', state: 'failure', attempt: 1 };
    const writes: string[] = [];
    const rerunning = new RunsService(
      strict('RunsRepository', {
        findById: () => Promise.resolve(ended),
        transition: (_id: string, _from: unknown, to: string) => {
          writes.push(`run → ${to}`);
          return Promise.resolve({ ...ended, state: to });
        },
      }),
      strict('JobsRepository', {
        listByRun: () => Promise.resolve([failed]),
        attempts: () => Promise.resolve(new Map()),
        transition: (id: string, _from: unknown, to: string) => {
          writes.push(`${id} → ${to}`);
          return Promise.resolve({ ...failed, state: to });
        },
      }),
      strict('PipelineQueues', { ready: () => Promise.resolve(true) }),
      strict('RunProgressService', {
        report: () => Promise.resolve(),
        advance: () => Promise.resolve(),
      }),
      strict<never>('BuildFrameworkService', {}),
      strict<never>('GitMirror', {}),
      strict<never>('SecretBox', {}),
      strict<never>('PromotionsRepository', {}),
      strict<never>('AuditLog', {}),
      strict<never>('RepositoriesRepository', {}),
      strict<never>('AccountsRepository', {}),
    );

    await rerunning.rerunFailed(run.id);

    expect(writes).toEqual(['job-a → blocked', 'run → running']);
  });
});
