import { describe, expect, it } from 'vitest';
import { unplaceableReason, type AgentSummary } from './cluster-state.client';

function agent(
  id: string,
  total: { cpus: number; mem: number },
  options: { state?: string; containerizers?: string[] } = {},
): AgentSummary {
  return {
    id,
    hostname: `${id}.local`,
    state: options.state ?? 'ACTIVE',
    containerizers: options.containerizers ?? ['cgroup', 'process'],
    total,
    // Busy agents: what is free now must not matter, only what an agent could ever offer.
    free: { cpus: 0, mem: 0 },
  };
}

describe(unplaceableReason.name, () => {
  it('places a job that some agent is big enough for, even if it is busy now', () => {
    const agents = [agent('small', { cpus: 1, mem: 512 }), agent('big', { cpus: 8, mem: 16_384 })];
    expect(unplaceableReason(agents, { cpus: 8, mem: 16_384 })).toBeUndefined();
  });

  it('names the cpus a job needs and the largest agent has', () => {
    const agents = [agent('a', { cpus: 2, mem: 8_192 }), agent('b', { cpus: 1, mem: 8_192 })];
    expect(unplaceableReason(agents, { cpus: 8, mem: 1_024 })).toBe(
      'needs 8 cpus; the largest agent has 2',
    );
  });

  it('names the memory a job needs and the largest agent has', () => {
    const agents = [agent('a', { cpus: 4, mem: 2_048 })];
    expect(unplaceableReason(agents, { cpus: 1, mem: 4_096 })).toBe(
      'needs 4096 MB of memory; the largest agent has 2048',
    );
  });

  it('names both when a job needs more cpus and memory than any agent has', () => {
    const agents = [agent('a', { cpus: 2, mem: 1_024 })];
    expect(unplaceableReason(agents, { cpus: 4, mem: 4_096 })).toBe(
      'needs 4 cpus; the largest agent has 2; needs 4096 MB of memory; the largest agent has 1024',
    );
  });

  it('says no single agent has both when the cpus and the memory are on different agents', () => {
    const agents = [agent('cpu', { cpus: 8, mem: 1_024 }), agent('mem', { cpus: 1, mem: 16_384 })];
    expect(unplaceableReason(agents, { cpus: 8, mem: 4_096 })).toBe(
      'needs 8 cpus and 4096 MB together; no single agent has both',
    );
  });

  it('needs an agent with Docker for a job with an image', () => {
    const agents = [agent('native', { cpus: 16, mem: 65_536 })];
    expect(unplaceableReason(agents, { cpus: 1, mem: 256, image: 'node:22' })).toBe(
      'the job has an image (node:22) and no agent has Docker',
    );
    const docker = agent('docker', { cpus: 2, mem: 2_048 }, { containerizers: ['docker'] });
    expect(
      unplaceableReason([...agents, docker], { cpus: 1, mem: 256, image: 'node:22' }),
    ).toBeUndefined();
  });

  it('sizes a job with an image against the Docker agents only', () => {
    const agents = [
      agent('native', { cpus: 16, mem: 65_536 }),
      agent('docker', { cpus: 2, mem: 2_048 }, { containerizers: ['docker'] }),
    ];
    expect(unplaceableReason(agents, { cpus: 4, mem: 256, image: 'node:22' })).toBe(
      'needs 4 cpus; the largest agent has 2',
    );
  });

  it('needs a native containerizer for a job without an image', () => {
    const agents = [agent('docker', { cpus: 4, mem: 4_096 }, { containerizers: ['docker'] })];
    expect(unplaceableReason(agents, { cpus: 1, mem: 256 })).toBe(
      'no agent can run a job without an image',
    );
  });

  it('waits rather than fails while the cluster has no agent', () => {
    expect(unplaceableReason([], { cpus: 64, mem: 1_000_000, image: 'node:22' })).toBeUndefined();
  });

  it('ignores unreachable and removed agents', () => {
    const gone = [
      agent('u', { cpus: 32, mem: 65_536 }, { state: 'UNREACHABLE' }),
      agent('r', { cpus: 32, mem: 65_536 }, { state: 'REMOVED' }),
    ];
    expect(
      unplaceableReason([...gone, agent('a', { cpus: 2, mem: 4_096 })], { cpus: 8, mem: 1 }),
    ).toBe('needs 8 cpus; the largest agent has 2');
    // Only gone agents: as good as none, so wait for one to come (back).
    expect(unplaceableReason(gone, { cpus: 8, mem: 1 })).toBeUndefined();
  });
});
