import type { Job, Promotion, Repository, Run, RunDetails } from '../api-types';

/** The plan `.kiln.yml` compiles for a one-step job `key`. */
export function jobPlan(key: string): Job['plan'] {
  return {
    key,
    name: key,
    steps: [{ name: 'make', run: 'make' }],
    env: {},
    resources: { cpus: 1, mem: 512 },
    needs: [],
    timeoutSeconds: 3600,
    retry: 0,
    allowFailure: false,
    secrets: [],
    artifacts: [],
  };
}

/** What the specs of release commands share: a repository, its run #3, promotions of it. */
export const REPO: Pick<Repository, 'id' | 'forge' | 'fullName' | 'defaultBranch'> = {
  id: '0b6f1d0e-3c1a-4d7e-9a55-1f2e3d4c5b6a',
  forge: 'github',
  fullName: 'acme/app',
  defaultBranch: 'main',
};
export const RUN_ID = '7d1e6a4e-8a51-4c35-9d61-0b4f1f8f9a11';
export const PROMOTION_ID = '6c1f0b9e-2d4a-4e8b-9f3c-7a5d1e2b3c4d';
export const DEPLOY_RUN_ID = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';
export const SHA = 'abcdef1234567890abcdef1234567890abcdef12';
/** The clock the specs run at: promotions below were requested 5 minutes before. */
export const NOW = new Date('2025-01-10T12:00:00Z');

/** The route `ctx.run('acme/app', n)` asks: the page of runs before n + 1. */
export function runLookup(number: number): string {
  return `GET /api/v1/repositories/${REPO.id}/runs?limit=1&before=${number + 1}`;
}

export function run(overrides: Partial<Run> = {}): Run {
  return {
    id: RUN_ID,
    repositoryId: REPO.id,
    number: 3,
    state: 'success',
    event: 'push',
    ref: 'refs/heads/main',
    branch: 'main',
    sha: SHA,
    fromFork: false,
    createdAt: '2025-01-10T11:00:00Z',
    startedAt: '2025-01-10T11:00:00Z',
    finishedAt: '2025-01-10T11:02:00Z',
    ...overrides,
  };
}

export function runDetails(overrides: Partial<Run> = {}, jobs: Partial<Job>[] = []): RunDetails {
  const base = run(overrides);
  return {
    ...base,
    jobs: jobs.map((job, i) => ({
      id: `j${i}`,
      runId: base.id,
      key: `job${i}`,
      state: 'success',
      attempt: 1,
      plan: jobPlan(`job${i}`),
      earlierTaskIds: [],
      attempts: [],
      createdAt: base.createdAt,
      ...job,
    })),
  };
}

export function promotion(overrides: Partial<Promotion> = {}): Promotion {
  return {
    id: PROMOTION_ID,
    repositoryId: REPO.id,
    repositoryFullName: REPO.fullName,
    environment: 'production',
    state: 'awaiting-approval',
    run: { id: RUN_ID, number: 3, sha: SHA, branch: 'main', message: 'Fix the login page' },
    rollback: false,
    requestedBy: 'bob',
    requestedAt: '2025-01-10T11:55:00Z',
    requiredApprovals: 2,
    approvals: [],
    expiresAt: '2025-01-11T11:55:00Z',
    artifacts: [],
    ...overrides,
  };
}
