/** The server's API as the web app sees it: JSON over same-origin fetch, the session cookie. */
import type { Forge, JobState, PromotionState, RepositoryRole, RunState } from '@kiln/api-types';

export type { Forge, JobState, PromotionState, RepositoryRole, RunState } from '@kiln/api-types';

export const TERMINAL_RUN_STATES: readonly RunState[] = ['success', 'failure', 'error', 'canceled'];
/** A promotion in these states still holds its place: it may be approved, canceled, deployed. */
export const OPEN_PROMOTION_STATES: readonly PromotionState[] = [
  'awaiting-approval',
  'queued',
  'deploying',
];

export interface User {
  id: string;
  username: string;
  isAdmin: boolean;
  createdAt?: string;
  /** Set while an administrator has the user disabled. */
  disabledAt?: string;
}

export const FORGES: readonly Forge[] = ['github', 'gitlab', 'gitea', 'forgejo', 'bitbucket'];
export const REPOSITORY_ROLES: readonly RepositoryRole[] = [
  'viewer',
  'developer',
  'release-manager',
];

export interface Repository {
  id: string;
  forge: Forge;
  fullName: string;
  cloneUrl: string;
  defaultBranch: string;
  apiUrl?: string;
  hasForgeToken: boolean;
  autoCancelPullRequests: boolean;
  /** Where the forge sends webhooks, relative to the server's address (`/hooks/github`). */
  webhookPath: string;
}

export interface NewRepository {
  forge: Forge;
  fullName: string;
  cloneUrl: string;
  defaultBranch?: string;
  forgeToken?: string;
  apiUrl?: string;
}

/** What an administrator may change; `null` removes the token, or derives the API URL again. */
export interface RepositoryChanges {
  defaultBranch?: string;
  forgeToken?: string | null;
  apiUrl?: string | null;
  autoCancelPullRequests?: boolean;
}

/** A build secret as the API shows it: never its value. */
export interface Secret {
  name: string;
  /** The environments whose deployments alone get it; absent: every job that lists it. */
  environments?: string[];
  createdAt: string;
  updatedAt: string;
}

/** A cron schedule (UTC) that starts runs of a branch. */
export interface Schedule {
  id: string;
  repositoryId: string;
  name: string;
  cron: string;
  branch: string;
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
  /** Set on `promote` runs: where they deploy, which run, for which promotion. */
  environment?: string;
  promotedRun?: { id: string; number: number };
  promotionId?: string;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
}

/** The part of a job's compiled plan the UI reads. */
export interface JobPlan {
  needs?: string[];
  /** In a promote run: the needs the promoted run built (skipped here, still drawn). */
  promotedNeeds?: string[];
  resources?: { cpus: number; mem: number };
}

/** One attempt of a job: `queued`/`running` while it is the latest, then how it ended. */
export interface JobAttempt {
  attempt: number;
  state: string;
  statusMessage?: string;
  exitCode?: number;
}

export interface JobUsage {
  cpuSeconds?: number;
  memPeakBytes?: number;
}

export interface Job {
  id: string;
  runId: string;
  key: string;
  state: JobState;
  attempt: number;
  statusMessage?: string;
  exitCode?: number;
  reason?: string;
  plan?: JobPlan;
  usage?: JobUsage;
  /** In a run's details: every attempt (retries, reruns), oldest first. */
  attempts?: JobAttempt[];
  createdAt: string;
  queuedAt?: string;
  startedAt?: string;
  finishedAt?: string;
}

export const RUN_STATES: readonly RunState[] = [
  'pending',
  'running',
  'success',
  'failure',
  'error',
  'canceled',
];
export const RUN_EVENTS = ['push', 'pull_request', 'tag', 'manual', 'cron', 'promote'] as const;

/** Which runs a repository's list shows; an unset field does not filter. */
export interface RunFilter {
  branch?: string;
  state?: RunState;
  event?: (typeof RUN_EVENTS)[number];
}

export interface RunDetails extends Run {
  jobs: Job[];
}

export interface Membership {
  userId: string;
  username: string;
  role: RepositoryRole;
}

/** A job that waits to run (`GET /api/v1/queue`). */
export interface WaitingJob {
  jobId: string;
  runId: string;
  repositoryId: string;
  repositoryName: string;
  runNumber: number;
  key: string;
  state: 'queued' | 'blocked';
  waitingSince: string;
  statusMessage?: string;
}

/** An agent of the cluster; memory in MiB. */
export interface Agent {
  id: string;
  hostname: string;
  state: string;
  containerizers: string[];
  total: { cpus: number; mem: number };
  free: { cpus: number; mem: number };
}

export interface ApiToken {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt?: string;
}

export interface StepView {
  idx: number;
  name: string;
  firstLine: number;
  exitCode: number | null;
  startedAt: string;
  finishedAt: string | null;
}

/** A file a job's attempt kept (`GET /api/v1/jobs/:jobId/artifacts`). */
export interface Artifact {
  name: string;
  attempt: number;
  size: number;
  sha256: string;
  createdAt: string;
}

/** A step of a repository's release chain (staging → production). */
export interface Environment {
  id: string;
  repositoryId: string;
  name: string;
  /** The environment a run must have been deployed to first. */
  previous?: string;
  requiredApprovals: number;
  /** Branch globs (`release/*`); absent: any branch. */
  allowedBranches?: string[];
  approvalTimeoutMinutes: number;
  createdAt: string;
}

export interface EnvironmentSettings {
  previous?: string | null;
  requiredApprovals?: number;
  allowedBranches?: string[] | null;
  approvalTimeoutMinutes?: number;
}

/** The run a promotion is about: the build that passed. */
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

export interface PromotionArtifact {
  job: string;
  name: string;
  sha256: string;
  size: number;
}

/** A request to deploy a run to an environment, from approvals to its `promote` run's end. */
export interface Promotion {
  id: string;
  repositoryId: string;
  repositoryFullName: string;
  environment: string;
  state: PromotionState;
  run: RunSummary;
  /** The `promote` run, once started. */
  deployRun?: { id: string; number: number; state: string };
  /** The run is older than what is deployed now and was deployed here before. */
  rollback: boolean;
  requestedBy: string;
  requestedAt: string;
  comment?: string;
  requiredApprovals: number;
  approvals: PromotionDecision[];
  expiresAt?: string;
  startedAt?: string;
  finishedAt?: string;
  statusMessage?: string;
  artifacts: PromotionArtifact[];
}

/** One column of the environments board, in chain order. */
export interface EnvironmentBoardEntry {
  environment: Environment;
  /** What runs there now: the latest `deployed` promotion. */
  current?: Promotion;
  /** Awaiting approval, queued, deploying; oldest first. */
  pending: Promotion[];
  /** Successful runs that may be promoted here next, newest first. */
  promotable: RunSummary[];
  /** Asked with a run: whether the policy lets it be promoted here now, and why not. */
  eligibility?: { run: string; eligible: boolean; reason?: string };
}

export interface AuditEvent {
  id: string;
  at: string;
  /** Absent when Kiln itself acted (an expiry). */
  actor?: string;
  action: string;
  objectType: string;
  objectId: string;
  repositoryId?: string;
  repositoryFullName?: string;
  summary: string;
  details: Record<string, unknown>;
}

export interface AuditQuery {
  repositoryId?: string;
  action?: string;
  actor?: string;
  limit?: number;
  before?: string;
}

/** A non-2xx answer; `message` is the server's own (`{ statusCode, error, message }`). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

// The CSRF token lives in memory only; a reloaded page asks the server for it again
// (`GET /api/v1/session`, readable by this origin only).
let csrfToken: string | undefined;
let onSignedOut: (() => void) | undefined;

/** Called whenever the server answers 401: the session is gone. */
export function whenSignedOut(listener: () => void): void {
  onSignedOut = listener;
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken !== undefined) headers['x-csrf-token'] = csrfToken;
  const res = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  const json: unknown =
    text !== '' && (res.headers.get('content-type') ?? '').includes('json')
      ? JSON.parse(text)
      : undefined;
  if (!res.ok) {
    if (res.status === 401 && path !== '/api/v1/session') onSignedOut?.();
    throw new ApiError(res.status, messageOf(json) ?? `${res.status} ${res.statusText}`);
  }
  return json as T;
}

function messageOf(json: unknown): string | undefined {
  if (typeof json !== 'object' || json === null || !('message' in json)) return undefined;
  const { message } = json;
  if (typeof message === 'string') return message;
  if (Array.isArray(message)) return message.map(String).join('; ');
  return undefined;
}

export const api = {
  async signIn(username: string, password: string): Promise<User> {
    const answer = await request<{ user: User; csrfToken: string }>('POST', '/api/v1/session', {
      username,
      password,
    });
    csrfToken = answer.csrfToken;
    return answer.user;
  },
  async signOut(): Promise<void> {
    try {
      await request<void>('DELETE', '/api/v1/session');
    } finally {
      csrfToken = undefined;
    }
  },
  /** Who is signed in, restoring the session's CSRF token after a reload. */
  async me(): Promise<User> {
    const answer = await request<{ user: User; csrfToken?: string }>('GET', '/api/v1/session');
    csrfToken = answer.csrfToken;
    return answer.user;
  },
  repositories: (): Promise<Repository[]> => request('GET', '/api/v1/repositories'),
  repository: (id: string): Promise<Repository> => request('GET', repositoryPath(id)),
  /** Registers a repository: the answer holds its webhook secret, this once. */
  createRepository: (repository: NewRepository): Promise<Repository & { webhookSecret: string }> =>
    request('POST', '/api/v1/repositories', repository),
  updateRepository: (id: string, changes: RepositoryChanges): Promise<Repository> =>
    request('PATCH', repositoryPath(id), changes),
  deleteRepository: (id: string): Promise<void> => request('DELETE', repositoryPath(id)),
  rotateWebhookSecret: (id: string): Promise<{ webhookSecret: string }> =>
    request('POST', `${repositoryPath(id)}/webhook-secret`),
  /** Starts a run of `branch` (at `sha`, else its head now). */
  startRun: (id: string, branch: string, sha?: string): Promise<Run> =>
    request('POST', `${repositoryPath(id)}/runs`, {
      branch,
      ...(sha === undefined ? {} : { sha }),
    }),
  secrets: (id: string): Promise<Secret[]> => request('GET', `${repositoryPath(id)}/secrets`),
  putSecret: (
    id: string,
    name: string,
    value: string,
    environments?: string[],
  ): Promise<{ name: string; created: boolean }> =>
    request('PUT', `${repositoryPath(id)}/secrets/${encodeURIComponent(name)}`, {
      value,
      ...(environments === undefined || environments.length === 0 ? {} : { environments }),
    }),
  deleteSecret: (id: string, name: string): Promise<void> =>
    request('DELETE', `${repositoryPath(id)}/secrets/${encodeURIComponent(name)}`),
  schedules: (id: string): Promise<Schedule[]> => request('GET', `${repositoryPath(id)}/schedules`),
  createSchedule: (
    id: string,
    schedule: { name: string; cron: string; branch?: string },
  ): Promise<Schedule> => request('POST', `${repositoryPath(id)}/schedules`, schedule),
  deleteSchedule: (scheduleId: string): Promise<void> =>
    request('DELETE', `/api/v1/schedules/${encodeURIComponent(scheduleId)}`),
  users: (): Promise<User[]> => request('GET', '/api/v1/users'),
  createUser: (user: { username: string; password: string; admin: boolean }): Promise<User> =>
    request('POST', '/api/v1/users', user),
  /** Disables a user (sessions end, tokens stop working) or enables them again. */
  setUserDisabled: (userId: string, disabled: boolean): Promise<User> =>
    request('PATCH', `/api/v1/users/${encodeURIComponent(userId)}`, { disabled }),
  setRole: (id: string, userId: string, role: RepositoryRole): Promise<Membership[]> =>
    request('PUT', `${repositoryPath(id)}/members/${encodeURIComponent(userId)}`, { role }),
  removeRole: (id: string, userId: string): Promise<void> =>
    request('DELETE', `${repositoryPath(id)}/members/${encodeURIComponent(userId)}`),
  members: (id: string): Promise<Membership[]> =>
    request('GET', `/api/v1/repositories/${encodeURIComponent(id)}/members`),
  /** A repository's runs, newest first, those matching `filter` only. */
  /** A page of runs, newest first; `before` (a run number, the last page's `next`) pages on. */
  runs: (
    repositoryId: string,
    filter: RunFilter = {},
    page: { limit?: number; before?: number } = {},
  ): Promise<{ runs: Run[]; next?: number }> =>
    request(
      'GET',
      `${repositoryPath(repositoryId)}/runs${query({ limit: 50, ...filter, ...page })}`,
    ),
  run: (id: string): Promise<RunDetails> =>
    request('GET', `/api/v1/runs/${encodeURIComponent(id)}`),
  cancel: (id: string): Promise<RunDetails> =>
    request('POST', `/api/v1/runs/${encodeURIComponent(id)}/cancel`),
  rerun: (id: string): Promise<Run> =>
    request('POST', `/api/v1/runs/${encodeURIComponent(id)}/rerun`),
  rerunFailed: (id: string): Promise<RunDetails> =>
    request('POST', `/api/v1/runs/${encodeURIComponent(id)}/rerun-failed`),
  queue: (): Promise<WaitingJob[]> => request('GET', '/api/v1/queue'),
  agents: async (): Promise<Agent[]> =>
    (await request<{ agents: Agent[] }>('GET', '/api/v1/agents')).agents,
  tokens: (): Promise<ApiToken[]> => request('GET', '/api/v1/tokens'),
  createToken: (name: string): Promise<ApiToken & { token: string }> =>
    request('POST', '/api/v1/tokens', { name }),
  revokeToken: (id: string): Promise<void> =>
    request('DELETE', `/api/v1/tokens/${encodeURIComponent(id)}`),
  /** A job attempt's steps: where each begins in its log, how it ended. */
  steps: (jobId: string, attempt?: number): Promise<StepView[]> =>
    request('GET', `/api/v1/jobs/${encodeURIComponent(jobId)}/steps${query({ attempt })}`),
  /** A job attempt's log as text. */
  logText: async (jobId: string, attempt?: number): Promise<string> => {
    const res = await fetch(logUrl(jobId, attempt), { credentials: 'same-origin' });
    if (!res.ok) throw new ApiError(res.status, `the log answered ${res.status}`);
    return res.text();
  },
  /** A job attempt's artifacts, the latest attempt's by default. */
  artifacts: (jobId: string, attempt?: number): Promise<Artifact[]> =>
    request('GET', `/api/v1/jobs/${encodeURIComponent(jobId)}/artifacts${query({ attempt })}`),
  /** The board; given a run, each entry says whether that run may be promoted there now. */
  environments: (repositoryId: string, run?: string): Promise<EnvironmentBoardEntry[]> =>
    request('GET', environmentsPath(repositoryId) + query({ run })),
  saveEnvironment: (
    repositoryId: string,
    name: string,
    settings: EnvironmentSettings,
  ): Promise<Environment> =>
    request('PUT', `${environmentsPath(repositoryId)}/${encodeURIComponent(name)}`, settings),
  deleteEnvironment: (repositoryId: string, name: string): Promise<void> =>
    request('DELETE', `${environmentsPath(repositoryId)}/${encodeURIComponent(name)}`),
  /** An environment's history, newest first; `before` pages on from a promotion's id. */
  deployments: (
    repositoryId: string,
    environment: string,
    page: { limit?: number; before?: string } = {},
  ): Promise<Promotion[]> =>
    request(
      'GET',
      `${environmentsPath(repositoryId)}/${encodeURIComponent(environment)}/deployments` +
        query(page),
    ),
  promote: (runId: string, environment: string, comment?: string): Promise<Promotion> =>
    request('POST', `/api/v1/runs/${encodeURIComponent(runId)}/promotions`, {
      environment,
      ...withComment(comment),
    }),
  promotion: (id: string): Promise<Promotion> =>
    request('GET', `/api/v1/promotions/${encodeURIComponent(id)}`),
  approve: (id: string, comment?: string): Promise<Promotion> =>
    request('POST', `/api/v1/promotions/${encodeURIComponent(id)}/approve`, withComment(comment)),
  reject: (id: string, comment?: string): Promise<Promotion> =>
    request('POST', `/api/v1/promotions/${encodeURIComponent(id)}/reject`, withComment(comment)),
  cancelPromotion: (id: string): Promise<Promotion> =>
    request('POST', `/api/v1/promotions/${encodeURIComponent(id)}/cancel`),
  /** Promotions awaiting the signed-in user's decision, oldest first. */
  approvals: (): Promise<Promotion[]> => request('GET', '/api/v1/approvals'),
  audit: (filter: AuditQuery = {}): Promise<{ events: AuditEvent[]; next?: string }> =>
    request('GET', `/api/v1/audit${query({ ...filter })}`),
};

const repositoryPath = (id: string): string => `/api/v1/repositories/${encodeURIComponent(id)}`;

const environmentsPath = (repositoryId: string): string =>
  `/api/v1/repositories/${encodeURIComponent(repositoryId)}/environments`;

/** `?a=1&b=x` of the parameters that are set; empty when none is. */
function query(params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== '') search.set(name, String(value));
  }
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}

/** A blank comment is no comment: the server gets none rather than an empty string. */
function withComment(comment: string | undefined): { comment?: string } {
  const text = comment?.trim() ?? '';
  return text === '' ? {} : { comment: text };
}

export const logUrl = (jobId: string, attempt?: number): string =>
  `/api/v1/jobs/${encodeURIComponent(jobId)}/log${query({ attempt })}`;

/** An artifact's download address; its name's slashes stay path separators. */
export const artifactUrl = (jobId: string, name: string, attempt?: number): string =>
  `/api/v1/jobs/${encodeURIComponent(jobId)}/artifacts/` +
  name.split('/').map(encodeURIComponent).join('/') +
  (attempt === undefined ? '' : `?attempt=${attempt}`);
