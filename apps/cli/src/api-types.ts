/**
 * What the server's API answers, as JSON on the wire (dates are ISO strings). The states are the
 * generated ones (@kiln/api-types); the shapes below name only the fields the CLI relies on.
 */
import type { JobState, PromotionState, RunState } from '@kiln/api-types';

export type { JobState, PromotionState, RunState } from '@kiln/api-types';

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
  /** Set on runs whose `event` is `promote`: where they deploy, what, and for which promotion. */
  environment?: string;
  promotedRun?: { id: string; number: number };
  promotionId?: string;
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

/** One attempt of a job (`GET /api/v1/runs/<id>` jobs' `attempts`, oldest first). */
export interface JobAttempt {
  attempt: number;
  taskId?: string;
  state: 'queued' | 'running' | 'success' | 'failure' | 'canceled' | 'lost';
  reason?: string;
  statusMessage?: string;
  exitCode?: number;
  agentId?: string;
  queuedAt?: string;
  startedAt?: string;
  finishedAt?: string;
}

export interface RunDetails extends Run {
  /** `attempts`: absent from servers that do not keep them. */
  jobs: (Job & { attempts?: JobAttempt[] })[];
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

/** A file a job's attempt kept (`GET /jobs/:jobId/artifacts`). */
export interface Artifact {
  name: string;
  attempt: number;
  size: number;
  /** Lowercase hex SHA-256 of the bytes. */
  sha256: string;
  createdAt: string;
}

/** The bytes of one artifact as they arrive, and the checksum the server sent with them. */
export interface ArtifactDownload {
  body: ReadableStream<Uint8Array>;
  /** The `x-kiln-sha256` header; undefined when the answer had none. */
  sha256: string | undefined;
}

export interface Environment {
  id: string;
  repositoryId: string;
  name: string;
  /** The environment a run must have been deployed to first. */
  previous?: string;
  /** Distinct release managers who must approve, never the requester. */
  requiredApprovals: number;
  /** Branch globs; absent: any branch. */
  allowedBranches?: string[];
  approvalTimeoutMinutes: number;
  createdAt: string;
}

/**
 * An environment's policy as an admin sets it (`PUT …/environments/:name`): unset fields keep
 * their value (a new environment: the default), null clears one.
 */
export interface EnvironmentSettings {
  previous?: string | null;
  requiredApprovals?: number;
  allowedBranches?: string[] | null;
  approvalTimeoutMinutes?: number;
}

/** A run as promotions and the environments board name it. */
export interface RunSummary {
  id: string;
  number: number;
  sha: string;
  branch?: string;
  message?: string;
  author?: string;
  finishedAt?: string;
}

export interface PromotionDecision {
  user: string;
  decision: 'approve' | 'reject';
  comment?: string;
  at: string;
}

export interface Promotion {
  id: string;
  repositoryId: string;
  repositoryFullName: string;
  environment: string;
  state: PromotionState;
  /** The promoted run: the build that passed. */
  run: RunSummary;
  /** The `promote` run that deploys it, once started. */
  deployRun?: { id: string; number: number; state: string };
  /** The run is older than what is deployed now and was deployed here before. */
  rollback: boolean;
  requestedBy: string;
  requestedAt: string;
  comment?: string;
  requiredApprovals: number;
  approvals: PromotionDecision[];
  /** While awaiting approval. */
  expiresAt?: string;
  startedAt?: string;
  finishedAt?: string;
  /** Why it waits, or why it failed. */
  statusMessage?: string;
  artifacts: { job: string; name: string; sha256: string; size: number }[];
}

/** One environment on the board: what runs there, what is on its way, what could be next. */
export interface EnvironmentBoardEntry {
  environment: Environment;
  /** The latest `deployed` promotion. */
  current?: Promotion;
  /** Awaiting approval, queued or deploying; oldest first. */
  pending: Promotion[];
  /** Up to 5 successful runs that may be promoted here next, newest first. */
  promotable: RunSummary[];
}
