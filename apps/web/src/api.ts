/** The server's API as the web app sees it: JSON over same-origin fetch, the session cookie. */

export type RunState = 'pending' | 'running' | 'success' | 'failure' | 'error' | 'canceled';
export type JobState =
  'blocked' | 'queued' | 'running' | 'success' | 'failure' | 'canceled' | 'skipped';
export type RepositoryRole = 'viewer' | 'developer' | 'release-manager';

export const TERMINAL_RUN_STATES: readonly RunState[] = ['success', 'failure', 'error', 'canceled'];

export interface User {
  id: string;
  username: string;
  isAdmin: boolean;
}

export interface Repository {
  id: string;
  forge: string;
  fullName: string;
  defaultBranch: string;
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

/** The part of a job's compiled plan the UI reads. */
export interface JobPlan {
  needs?: string[];
  resources?: { cpus: number; mem: number };
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
  createdAt: string;
  queuedAt?: string;
  startedAt?: string;
  finishedAt?: string;
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
  repository: (id: string): Promise<Repository> =>
    request('GET', `/api/v1/repositories/${encodeURIComponent(id)}`),
  members: (id: string): Promise<Membership[]> =>
    request('GET', `/api/v1/repositories/${encodeURIComponent(id)}/members`),
  runs: (repositoryId: string): Promise<{ runs: Run[]; next?: number }> =>
    request('GET', `/api/v1/repositories/${encodeURIComponent(repositoryId)}/runs?limit=50`),
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
};

export const logUrl = (jobId: string): string => `/api/v1/jobs/${encodeURIComponent(jobId)}/log`;
