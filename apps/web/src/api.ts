/** The server's API as the web app sees it: JSON over same-origin fetch, the session cookie. */
import type { PromotionState, Query, RepositoryRole, RunState, Schemas } from '@kiln/api-types';

export type { Forge, JobState, PromotionState, RepositoryRole, RunState } from '@kiln/api-types';
export { FORGES, REPOSITORY_ROLES, RUN_EVENTS, RUN_STATES } from '@kiln/api-types';

export const TERMINAL_RUN_STATES: readonly RunState[] = ['success', 'failure', 'error', 'canceled'];
/** A promotion in these states still holds its place: it may be approved, canceled, deployed. */
export const OPEN_PROMOTION_STATES: readonly PromotionState[] = [
  'awaiting-approval',
  'queued',
  'deploying',
];

export type User = Schemas['UserResponse'];

export type Repository = Schemas['RepositoryResponse'];

export type NewRepository = Schemas['CreateRepositoryDto'];

export type RepositoryChanges = Schemas['UpdateRepositoryDto'];

export type Secret = Schemas['SecretResponse'];

export type Schedule = Schemas['ScheduleResponse'];

export type Run = Schemas['RunResponse'];

export type JobPlan = Schemas['JobPlanResponse'];

export type JobAttempt = Schemas['JobAttemptResponse'];

export type JobUsage = Schemas['JobUsageResponse'];

export type Job = Schemas['JobWithAttemptsResponse'];

/** Which runs a repository's list shows; an unset field does not filter. */
export type RunFilter = Pick<Query<'Runs_list'>, 'branch' | 'state' | 'event'>;

export type RunDetails = Schemas['RunDetailsResponse'];

export type Membership = Schemas['MembershipResponse'];

export type WaitingJob = Schemas['WaitingJobResponse'];

export type Agent = Schemas['AgentResponse'];

export type ApiToken = Schemas['ApiTokenResponse'];

export type StepView = Schemas['StepResponse'];

export type Artifact = Schemas['ArtifactResponse'];

export type Environment = Schemas['EnvironmentResponse'];

export type EnvironmentSettings = Schemas['SaveEnvironmentDto'];

export type RunSummary = Schemas['RunSummaryResponse'];

export type PromotionDecision = Schemas['DecisionResponse'];

export type PromotionArtifact = Schemas['PromotedArtifactResponse'];

export type Promotion = Schemas['PromotionResponse'];

export type EnvironmentBoardEntry = Schemas['EnvironmentBoardEntryResponse'];

export type AuditEvent = Schemas['AuditEventResponse'];

export type AuditQuery = Query<'Audit_list'>;

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
    const answer = await request<Schemas['SessionResponse']>('POST', '/api/v1/session', {
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
    const answer = await request<Schemas['CurrentSessionResponse']>('GET', '/api/v1/session');
    csrfToken = answer.csrfToken;
    return answer.user;
  },
  repositories: (): Promise<Repository[]> => request('GET', '/api/v1/repositories'),
  repository: (id: string): Promise<Repository> => request('GET', repositoryPath(id)),
  /** Registers a repository: the answer holds its webhook secret, this once. */
  createRepository: (repository: NewRepository): Promise<Schemas['CreatedRepositoryResponse']> =>
    request('POST', '/api/v1/repositories', repository),
  updateRepository: (id: string, changes: RepositoryChanges): Promise<Repository> =>
    request('PATCH', repositoryPath(id), changes),
  deleteRepository: (id: string): Promise<void> => request('DELETE', repositoryPath(id)),
  rotateWebhookSecret: (id: string): Promise<Schemas['WebhookSecretResponse']> =>
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
  ): Promise<Schemas['PutSecretResponse']> =>
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
  ): Promise<Schemas['RunPageResponse']> =>
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
    (await request<Schemas['AgentsResponse']>('GET', '/api/v1/agents')).agents,
  tokens: (): Promise<ApiToken[]> => request('GET', '/api/v1/tokens'),
  createToken: (name: string): Promise<Schemas['CreatedApiTokenResponse']> =>
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
  audit: (filter: AuditQuery = {}): Promise<Schemas['AuditPageResponse']> =>
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
