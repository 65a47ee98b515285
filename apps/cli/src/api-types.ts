/**
 * What the server's API answers, as JSON on the wire (dates are ISO strings). The CLI keeps its
 * own copy instead of importing the server's types: it talks to servers of other versions, and
 * only relies on the fields named here.
 */

export type RunState = 'pending' | 'running' | 'success' | 'failure' | 'error' | 'canceled';
export type JobState =
  'blocked' | 'queued' | 'running' | 'success' | 'failure' | 'canceled' | 'skipped';

export interface Repository {
  id: string;
  forge: string;
  fullName: string;
  cloneUrl: string;
  defaultBranch: string;
  apiUrl?: string;
  hasForgeToken: boolean;
  autoCancelPullRequests: boolean;
  webhookPath: string;
  createdAt: string;
}

export interface Run {
  id: string;
  repositoryId: string;
  number: number;
  state: RunState;
  event: string;
  ref: string;
  branch?: string;
  tag?: string;
  sha: string;
  message?: string;
  author?: string;
  pullRequest?: number;
  errors?: string[];
  rerunOf?: string;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
}

export interface RunPage {
  runs: Run[];
  next?: number;
}

export interface Job {
  id: string;
  runId: string;
  key: string;
  state: JobState;
  attempt: number;
  taskId?: string;
  agentId?: string;
  statusMessage?: string;
  exitCode?: number;
  reason?: string;
  createdAt: string;
  queuedAt?: string;
  startedAt?: string;
  finishedAt?: string;
}

export interface RunDetails extends Run {
  jobs: Job[];
}

export interface SecretPut {
  name: string;
  created: boolean;
}

export interface AgentResources {
  cpus: number;
  mem: number;
}

/**
 * An agent as `GET /api/v1/agents` shows it. Servers answer either `total` and `free` or
 * `resources: { total, used }`; see agentUsage.
 */
export interface Agent {
  id: string;
  hostname: string;
  state: string;
  containerizers: string[];
  total?: AgentResources;
  free?: AgentResources;
  resources?: { total: AgentResources; used: AgentResources };
}

export interface AgentList {
  agents: Agent[];
}

/** What an agent has and uses, from whichever shape the server answered. */
export function agentUsage(
  agent: Agent,
): { total: AgentResources; used: AgentResources } | undefined {
  if (agent.resources !== undefined) return agent.resources;
  if (agent.total === undefined) return undefined;
  const free = agent.free ?? agent.total;
  return {
    total: agent.total,
    used: { cpus: agent.total.cpus - free.cpus, mem: agent.total.mem - free.mem },
  };
}
