import { describe, expect, it } from 'vitest';
import type { Job, JobPlan } from './api';
import { layoutJobGraph } from './job-graph-layout';

function job(
  key: string,
  state: Job['state'],
  plan: Pick<JobPlan, 'needs' | 'promotedNeeds'>,
): Job {
  return {
    id: key,
    runId: 'run',
    key,
    state,
    attempt: 0,
    plan: {
      key,
      name: key,
      steps: [],
      env: {},
      resources: { cpus: 1, mem: 512 },
      timeoutSeconds: 3600,
      retry: 0,
      allowFailure: false,
      secrets: [],
      artifacts: [],
      ...plan,
    },
    createdAt: '',
    earlierTaskIds: [],
    attempts: [],
  };
}

function drawn(jobs: Job[]): { edges: string[]; columns: Record<string, number> } {
  const { placed, edges } = layoutJobGraph(jobs);
  const xs = [...new Set(placed.map((p) => p.x))].sort((a, b) => a - b);
  return {
    edges: edges.map(({ from, to }) => `${from.job.key}->${to.job.key}`).sort(),
    columns: Object.fromEntries(placed.map((p) => [p.job.key, xs.indexOf(p.x)])),
  };
}

describe(layoutJobGraph.name, () => {
  it('draws the edge to a job its when skipped, in the column after its need', () => {
    const jobs = [
      job('build', 'success', { needs: [] }),
      job('deploy', 'skipped', { needs: ['build'] }),
    ];
    expect(drawn(jobs)).toEqual({ edges: ['build->deploy'], columns: { build: 0, deploy: 1 } });
  });

  it("draws a promote run's deploy after the builds the promoted run made, not stacked with them", () => {
    const jobs = [
      job('build', 'skipped', { needs: [] }),
      job('test', 'skipped', { needs: ['build'] }),
      job('deploy-staging', 'success', { needs: [], promotedNeeds: ['build', 'test'] }),
      job('deploy-production', 'skipped', { needs: ['build'] }),
    ];
    expect(drawn(jobs)).toEqual({
      edges: [
        'build->deploy-production',
        'build->deploy-staging',
        'build->test',
        'test->deploy-staging',
      ],
      columns: { build: 0, test: 1, 'deploy-staging': 2, 'deploy-production': 1 },
    });
  });

  it('draws one edge per need even when a key is both waited for and promoted', () => {
    const jobs = [
      job('a', 'success', { needs: [] }),
      job('b', 'success', { needs: ['a'], promotedNeeds: ['a'] }),
    ];
    expect(drawn(jobs).edges).toEqual(['a->b']);
  });
});
