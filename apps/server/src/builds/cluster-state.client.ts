import { failedResponseMessage } from '@kiln/common';

export interface AgentSummary {
  id: string;
  hostname: string;
  state: string;
  containerizers: string[];
  total: { cpus: number; mem: number };
  free: { cpus: number; mem: number };
}

/**
 * Reads the master's operator API: which agents exist and how big they are. One per process,
 * shared by everything that asks, so that an answer is never older than one given before it:
 * a page that reloads because the cluster watcher saw a change gets that change or a later one.
 */
export class ClusterStateClient {
  /** The last answer, by when its request was sent (what it can be no older than). */
  private cached: { sentAt: number; agents: AgentSummary[] } | undefined;

  constructor(
    private readonly masterUrl: string,
    private readonly token: string,
    private readonly maxAgeMs = 2_000,
  ) {}

  /** The agents as the master saw them at most `maxAgeMs` ago (0: ask it now). */
  async agents(maxAgeMs = this.maxAgeMs): Promise<AgentSummary[]> {
    if (this.cached !== undefined && Date.now() - this.cached.sentAt < maxAgeMs) {
      return this.cached.agents;
    }
    const sentAt = Date.now();
    const res = await fetch(new URL('/api/v1/state', this.masterUrl), {
      headers: { authorization: `Bearer ${this.token}` },
      signal: AbortSignal.timeout(5_000),
    });
    if (!res.ok) throw new Error(`master ${await failedResponseMessage(res)}`);
    const state = (await res.json()) as {
      agents: {
        id: string;
        hostname: string;
        state: string;
        containerizers: string[];
        resources: {
          total: { cpus: number; mem: number };
          used: { cpus: number; mem: number };
        };
      }[];
    };
    const agents = state.agents.map((a) => ({
      id: a.id,
      hostname: a.hostname,
      state: a.state,
      containerizers: a.containerizers,
      total: { cpus: a.resources.total.cpus, mem: a.resources.total.mem },
      free: {
        cpus: a.resources.total.cpus - a.resources.used.cpus,
        mem: a.resources.total.mem - a.resources.used.mem,
      },
    }));
    // A slow answer to an earlier request must not replace a newer one.
    if (this.cached === undefined || this.cached.sentAt <= sentAt) this.cached = { sentAt, agents };
    return agents;
  }
}

/** Why no agent of `agents` could ever run a task of this size, or undefined if one could. */
export function unplaceableReason(
  agents: readonly AgentSummary[],
  need: { cpus: number; mem: number; image?: string },
): string | undefined {
  const live = agents.filter((a) => a.state !== 'UNREACHABLE' && a.state !== 'REMOVED');
  if (live.length === 0) return undefined; // no agent yet: wait for one rather than fail
  const capable =
    need.image === undefined
      ? live.filter((a) => a.containerizers.some((c) => c === 'cgroup' || c === 'process'))
      : live.filter((a) => a.containerizers.includes('docker'));
  if (capable.length === 0) {
    return need.image === undefined
      ? 'no agent can run a job without an image'
      : `the job has an image (${need.image}) and no agent has Docker`;
  }
  if (capable.some((a) => a.total.cpus >= need.cpus && a.total.mem >= need.mem)) return undefined;
  const cpus = Math.max(...capable.map((a) => a.total.cpus));
  const mem = Math.max(...capable.map((a) => a.total.mem));
  const lacks: string[] = [];
  if (need.cpus > cpus) lacks.push(`needs ${need.cpus} cpus; the largest agent has ${cpus}`);
  if (need.mem > mem) lacks.push(`needs ${need.mem} MB of memory; the largest agent has ${mem}`);
  return lacks.length > 0
    ? lacks.join('; ')
    : `needs ${need.cpus} cpus and ${need.mem} MB together; no single agent has both`;
}
