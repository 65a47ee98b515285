import { createTestDatabase, TEST_DIALECTS, type TestDatabase } from '@kiln/persistence/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RecordChange, RecordChanges } from './record-changes';
import { AccountsRepository } from './repositories/accounts.repository';
import { EnvironmentsRepository } from './repositories/environments.repository';
import { JobsRepository } from './repositories/jobs.repository';
import { PromotionsRepository } from './repositories/promotions.repository';
import { RepositoriesRepository } from './repositories/repositories.repository';
import { RunsRepository } from './repositories/runs.repository';

const POLICY = {
  previousId: null,
  requiredApprovals: 0,
  allowedBranches: null,
  approvalTimeoutMinutes: 60,
};

describe.each(TEST_DIALECTS)('the repositories report what they changed, on %s', (dialect) => {
  let database: TestDatabase;
  let changes: RecordChange[];
  let runs: RunsRepository;
  let jobs: JobsRepository;
  let environments: EnvironmentsRepository;
  let promotions: PromotionsRepository;
  let repositoryId: string;

  beforeEach(async () => {
    database = await createTestDatabase(dialect);
    changes = [];
    const sink: RecordChanges = { changed: (change) => changes.push(change) };
    runs = new RunsRepository(database, sink);
    jobs = new JobsRepository(database, sink);
    environments = new EnvironmentsRepository(database, sink);
    promotions = new PromotionsRepository(database, sink);
    repositoryId = (
      await new RepositoriesRepository(database).create({
        forge: 'github',
        fullName: 'acme/shop',
        cloneUrl: 'https://x/y.git',
        defaultBranch: 'main',
      })
    ).id;
  });
  afterEach(() => database.drop());

  async function startedRun(): Promise<{ runId: string; jobId: string }> {
    const created = await runs.create({
      repositoryId,
      event: 'push',
      ref: 'refs/heads/main',
      sha: 'a'.repeat(40),
      fromFork: false,
    });
    if (!('run' in created)) throw new Error('no run');
    const runId = created.run.id;
    await runs.start(runId, [{ key: 'build', state: 'queued', plan: { image: 'alpine' } }]);
    const [job] = await jobs.listByRun(runId);
    return { runId, jobId: job!.id };
  }

  it("reports a run's creation, start and end, and its job's every change", async () => {
    const { runId, jobId } = await startedRun();
    await jobs.setStatusMessage(jobId, 'waiting for an offer');
    await jobs.transition(jobId, ['queued'], 'running');
    await jobs.transition(jobId, ['running'], 'success');
    await runs.transition(runId, ['running'], 'success');
    await runs.markArtifactsDeleted(runId);
    expect(changes).toEqual([
      { kind: 'run', id: runId, repositoryId, state: 'pending' },
      { kind: 'run', id: runId, repositoryId, state: 'running' },
      { kind: 'job', id: jobId, runId },
      { kind: 'job', id: jobId, runId, state: 'running' },
      { kind: 'job', id: jobId, runId, state: 'success' },
      { kind: 'run', id: runId, repositoryId, state: 'success' },
      { kind: 'run', id: runId, repositoryId, state: 'success' },
    ]);
  });

  it('reports nothing when a compare-and-set finds the record moved on', async () => {
    const { runId, jobId } = await startedRun();
    changes.length = 0;
    expect(await runs.start(runId, [])).toBe(false);
    expect(await runs.transition(runId, ['pending'], 'canceled')).toBeUndefined();
    expect(await jobs.transition(jobId, ['blocked'], 'queued')).toBeUndefined();
    await jobs.setStatusMessage('6b1f0c9e-2d4a-4e8b-9c7f-0a1b2c3d4e5f', 'no such job');
    expect(changes).toEqual([]);
  });

  it("reports environments saved and deleted, and a promotion's every step", async () => {
    const { runId } = await startedRun();
    changes.length = 0;
    const staging = await environments.save(repositoryId, 'staging', POLICY);
    const userId = (
      await new AccountsRepository(database).createUser({
        username: 'rita',
        passwordHash: 'hash',
        isAdmin: false,
      })
    ).id;
    const promotion = await promotions.create({
      repositoryId,
      environmentId: staging.id,
      runId,
      state: 'awaiting-approval',
      rollback: false,
      requestedBy: userId,
      requiredApprovals: 1,
    });
    await promotions.decide({ promotionId: promotion.id, userId, decision: 'approve' });
    const queued = await promotions.transition(promotion.id, ['awaiting-approval'], 'queued');
    expect(await promotions.startDeploying(queued!)).toBe(true);
    const before = changes.length;
    const { runId: deployRunId } = await startedRun();
    changes.splice(before); // The deploy run's own changes are the test above's.
    expect(await promotions.claimDeployRun(promotion.id, deployRunId)).toBe(true);
    expect(await promotions.finishDeploying(queued!, 'deployed')).toBe(true);
    expect(await environments.delete(staging.id)).toBe(true);
    const about = { id: promotion.id, repositoryId, runId };
    expect(changes).toEqual([
      { kind: 'environment', id: staging.id, repositoryId },
      { kind: 'promotion', ...about, state: 'awaiting-approval' },
      { kind: 'promotion', id: promotion.id },
      { kind: 'promotion', ...about, state: 'queued' },
      { kind: 'promotion', ...about, state: 'deploying' },
      { kind: 'promotion', ...about, state: 'deploying' },
      { kind: 'promotion', ...about, state: 'deployed' },
      { kind: 'environment', id: staging.id, repositoryId },
    ]);
  });
});
