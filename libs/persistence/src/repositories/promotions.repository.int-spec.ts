import { createTestDatabase, TEST_DIALECTS, type TestDatabase } from '@kiln/persistence/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AccountsRepository } from './accounts.repository';
import { AuditRepository } from './audit.repository';
import { EnvironmentsRepository } from './environments.repository';
import { PromotionsRepository, type NewPromotion } from './promotions.repository';
import { RepositoriesRepository } from './repositories.repository';
import { RunsRepository } from './runs.repository';

describe.each(TEST_DIALECTS)(`${PromotionsRepository.name} on %s`, (dialect) => {
  let database: TestDatabase;
  let environments: EnvironmentsRepository;
  let promotions: PromotionsRepository;
  let runs: RunsRepository;
  let repositoryId: string;
  let userId: string;
  let stagingId: string;

  const policy = {
    previousId: null,
    requiredApprovals: 0,
    allowedBranches: null,
    approvalTimeoutMinutes: 60,
  };

  async function newRun(): Promise<string> {
    const created = await runs.create({
      repositoryId,
      event: 'push',
      ref: 'refs/heads/main',
      branch: 'main',
      sha: 'a'.repeat(40),
      fromFork: false,
    });
    if (!('run' in created)) throw new Error('no run');
    return created.run.id;
  }

  function asked(
    runId: string,
    over: Partial<NewPromotion> = {},
  ): Promise<ReturnType<PromotionsRepository['create']> extends Promise<infer P> ? P : never> {
    return promotions.create({
      repositoryId,
      environmentId: stagingId,
      runId,
      state: 'queued',
      rollback: false,
      requestedBy: userId,
      requiredApprovals: 0,
      ...over,
    });
  }

  beforeEach(async () => {
    database = await createTestDatabase(dialect);
    const repositories = new RepositoriesRepository(database);
    environments = new EnvironmentsRepository(database);
    promotions = new PromotionsRepository(database);
    runs = new RunsRepository(database);
    repositoryId = (
      await repositories.create({
        forge: 'github',
        fullName: 'acme/shop',
        cloneUrl: 'https://x/y.git',
        defaultBranch: 'main',
      })
    ).id;
    userId = (
      await new AccountsRepository(database).createUser({
        username: 'rita',
        passwordHash: 'hash',
        isAdmin: false,
      })
    ).id;
    stagingId = (await environments.save(repositoryId, 'staging', policy)).id;
  });
  afterEach(() => database.drop());

  it('saves an environment once per name, updating its policy on a second save', async () => {
    const production = await environments.save(repositoryId, 'production', {
      ...policy,
      previousId: stagingId,
      requiredApprovals: 2,
      allowedBranches: ['main', 'release/*'],
    });
    const again = await environments.save(repositoryId, 'production', {
      ...policy,
      previousId: stagingId,
      requiredApprovals: 3,
      allowedBranches: null,
    });
    expect(again.id).toBe(production.id);
    expect(again).toMatchObject({ requiredApprovals: 3, previousId: stagingId });
    expect(again.allowedBranches).toBeUndefined();
    expect((await environments.list(repositoryId)).map((e) => e.name)).toEqual([
      'staging',
      'production',
    ]);
  });

  it('lists environments in promotion order, even when saved in the same millisecond', async () => {
    const at = new Date('2026-01-01T00:00:00.000Z');
    // "production" sorts before "staging" by name: only the chain puts it after.
    const qa = await environments.save(repositoryId, 'qa', policy, at);
    await environments.save(repositoryId, 'staging', { ...policy, previousId: qa.id }, at);
    await environments.save(repositoryId, 'production', { ...policy, previousId: stagingId }, at);
    expect((await environments.list(repositoryId)).map((e) => e.name)).toEqual([
      'qa',
      'staging',
      'production',
    ]);
  });

  it('gives the deploy lock to one promotion at a time, and frees it when that one ends', async () => {
    const first = await asked(await newRun());
    const second = await asked(await newRun());
    expect(await promotions.startDeploying(first)).toBe(true);
    expect(await promotions.startDeploying(second)).toBe(false);
    expect((await environments.findById(stagingId))?.deployingPromotionId).toBe(first.id);
    expect((await promotions.findById(second.id))?.state).toBe('queued');

    expect(await promotions.finishDeploying(first, 'deployed')).toBe(true);
    expect(await promotions.finishDeploying(first, 'failed')).toBe(false);
    expect((await promotions.findById(first.id))?.state).toBe('deployed');
    expect((await environments.findById(stagingId))?.deployingPromotionId).toBeUndefined();
    expect(await promotions.startDeploying(second)).toBe(true);
  });

  it('records a deploy run once, and never on a promotion that stopped deploying', async () => {
    const promotion = await asked(await newRun());
    expect(await promotions.startDeploying(promotion)).toBe(true);
    const [one, two] = [await newRun(), await newRun()];
    expect(await promotions.claimDeployRun(promotion.id, one)).toBe(true);
    expect(await promotions.claimDeployRun(promotion.id, two)).toBe(false);
    expect((await promotions.findById(promotion.id))?.deployRunId).toBe(one);

    const canceled = await asked(await newRun());
    await promotions.finishDeploying(promotion, 'canceled');
    expect(await promotions.startDeploying(canceled)).toBe(true);
    await promotions.finishDeploying(canceled, 'canceled');
    expect(await promotions.claimDeployRun(canceled.id, two)).toBe(false);
  });

  it('cancels a deploying promotion before its run only while it has none', async () => {
    const first = await asked(await newRun());
    expect(await promotions.startDeploying(first)).toBe(true);
    expect(await promotions.claimDeployRun(first.id, await newRun())).toBe(true);
    expect(await promotions.cancelBeforeRun(first, 'too late')).toBe(false);
    expect((await environments.findById(stagingId))?.deployingPromotionId).toBe(first.id);
    await promotions.finishDeploying(first, 'deployed');

    const second = await asked(await newRun());
    expect(await promotions.startDeploying(second)).toBe(true);
    expect(await promotions.cancelBeforeRun(second, 'canceled by rita')).toBe(true);
    expect(await promotions.findById(second.id)).toMatchObject({
      state: 'canceled',
      statusMessage: 'canceled by rita',
    });
    expect((await environments.findById(stagingId))?.deployingPromotionId).toBeUndefined();
  });

  it('takes no lock for a promotion canceled before it could start', async () => {
    const promotion = await asked(await newRun());
    await promotions.transition(promotion.id, ['queued'], 'canceled');
    expect(await promotions.startDeploying(promotion)).toBe(false);
    expect((await environments.findById(stagingId))?.deployingPromotionId).toBeUndefined();
  });

  it('lets two concurrent starts take the lock once', async () => {
    const candidates = await Promise.all([1, 2, 3, 4].map(async () => asked(await newRun())));
    const started = await Promise.all(candidates.map((p) => promotions.startDeploying(p)));
    expect(started.filter(Boolean)).toHaveLength(1);
    expect(await promotions.listByState(['deploying'])).toHaveLength(1);
  });

  it('records one decision per person, and what is deployed now', async () => {
    const runId = await newRun();
    const promotion = await asked(runId, { state: 'awaiting-approval', requiredApprovals: 1 });
    expect(
      await promotions.decide({ promotionId: promotion.id, userId, decision: 'approve' }),
    ).toBe(true);
    expect(
      await promotions.decide({
        promotionId: promotion.id,
        userId,
        decision: 'reject',
        comment: 'no',
      }),
    ).toBe(false);
    const decisions = (await promotions.decisions([promotion.id])).get(promotion.id);
    expect(decisions?.map((d) => d.decision)).toEqual(['approve']);

    expect(await promotions.current(stagingId)).toBeUndefined();
    await promotions.transition(promotion.id, ['awaiting-approval'], 'queued');
    expect(await promotions.startDeploying((await promotions.findById(promotion.id))!)).toBe(true);
    await promotions.finishDeploying(promotion, 'deployed');
    expect((await promotions.current(stagingId))?.id).toBe(promotion.id);
    expect(await promotions.deployedRuns(stagingId)).toEqual(new Set([runId]));
    expect(await promotions.runsInUse(repositoryId)).toEqual(new Set([runId]));
  });

  it('pages the audit log newest first and filters it', async () => {
    const audit = new AuditRepository(database);
    const base = { objectType: 'promotion', objectId: 'p', summary: 's', details: {} };
    for (let i = 0; i < 5; i++) {
      await audit.record(
        { ...base, action: i % 2 === 0 ? 'promotion.approved' : 'secret.set', actorName: `u${i}` },
        new Date(Date.UTC(2026, 0, 1, 0, 0, i)),
      );
    }
    const first = await audit.list({ limit: 2 });
    expect(first.events.map((e) => e.actorName)).toEqual(['u4', 'u3']);
    const second = await audit.list({ limit: 2, before: first.next });
    expect(second.events.map((e) => e.actorName)).toEqual(['u2', 'u1']);
    const approved = await audit.list({ limit: 10, action: 'promotion.approved' });
    expect(approved.events.map((e) => e.actorName)).toEqual(['u4', 'u2', 'u0']);
    expect(approved.next).toBeUndefined();
  });
});
