import type {
  AgentList,
  Artifact,
  ArtifactDownload,
  Environment,
  EnvironmentBoardEntry,
  EnvironmentSettings,
  Job,
  Promotion,
  Repository,
  Run,
  RunDetails,
  RunPage,
  SecretPut,
} from './api-types';
import { ApiError } from './errors';

export interface ApiClientOptions {
  /** The server's root URL, without a trailing slash. */
  server: string;
  /** Sent as `Authorization: Bearer <token>`; without one, calls go out unauthenticated. */
  token?: string;
  userAgent?: string;
  /** How long a plain call may take; streams are not limited. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** The shape of every error the server answers. */
interface ErrorBody {
  statusCode?: number;
  message?: unknown;
}

/**
 * The server's REST API (`/api/v1`), typed. Every failure is an {@link ApiError} carrying the HTTP
 * status and the server's own `message`.
 */
export class ApiClient {
  readonly server: string;
  private readonly token: string | undefined;
  private readonly userAgent: string;
  private readonly timeoutMs: number;
  private readonly fetch: typeof fetch;

  constructor(options: ApiClientOptions) {
    this.server = options.server;
    this.token = options.token;
    this.userAgent = options.userAgent ?? 'kiln-cli';
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.fetch = options.fetch ?? fetch;
  }

  listRepositories(): Promise<Repository[]> {
    return this.json('GET', '/api/v1/repositories');
  }

  listRuns(
    repositoryId: string,
    options: { limit?: number; before?: number } = {},
  ): Promise<RunPage> {
    const query = new URLSearchParams();
    if (options.limit !== undefined) query.set('limit', String(options.limit));
    if (options.before !== undefined) query.set('before', String(options.before));
    const suffix = query.size > 0 ? `?${query.toString()}` : '';
    return this.json('GET', `/api/v1/repositories/${segment(repositoryId)}/runs${suffix}`);
  }

  triggerRun(repositoryId: string, body: { branch?: string; sha?: string }): Promise<Run> {
    return this.json('POST', `/api/v1/repositories/${segment(repositoryId)}/runs`, body);
  }

  getRun(runId: string): Promise<RunDetails> {
    return this.json('GET', `/api/v1/runs/${segment(runId)}`);
  }

  getJob(jobId: string): Promise<Job> {
    return this.json('GET', `/api/v1/jobs/${segment(jobId)}`);
  }

  cancelRun(runId: string): Promise<RunDetails> {
    return this.json('POST', `/api/v1/runs/${segment(runId)}/cancel`);
  }

  /** A new run of the same commit. */
  rerun(runId: string): Promise<Run> {
    return this.json('POST', `/api/v1/runs/${segment(runId)}/rerun`);
  }

  /** The failed jobs again, in the same run. */
  rerunFailed(runId: string): Promise<RunDetails> {
    return this.json('POST', `/api/v1/runs/${segment(runId)}/rerun-failed`);
  }

  /** `environments`: only deployments to these get it; unset, every run that lists it. */
  putSecret(
    repositoryId: string,
    name: string,
    value: string,
    environments?: readonly string[],
  ): Promise<SecretPut> {
    const path = `/api/v1/repositories/${segment(repositoryId)}/secrets/${segment(name)}`;
    return this.json('PUT', path, {
      value,
      ...(environments === undefined ? {} : { environments }),
    });
  }

  listAgents(): Promise<AgentList> {
    return this.json('GET', '/api/v1/agents');
  }

  /** A job attempt's artifacts (the latest attempt by default). */
  listArtifacts(jobId: string, attempt?: number): Promise<Artifact[]> {
    const query = attempt === undefined ? '' : `?attempt=${attempt}`;
    return this.json('GET', `/api/v1/jobs/${segment(jobId)}/artifacts${query}`);
  }

  /** One artifact's bytes as they arrive; not limited in time, like the log streams. */
  async downloadArtifact(jobId: string, name: string, attempt?: number): Promise<ArtifactDownload> {
    const query = attempt === undefined ? '' : `?attempt=${attempt}`;
    // The name is a path (`out/app.tar.gz`): its slashes stay, each part is escaped.
    const path = name.split('/').map(segment).join('/');
    const res = await this.send('GET', `/api/v1/jobs/${segment(jobId)}/artifacts/${path}${query}`, {
      accept: 'application/octet-stream',
    });
    return { body: bodyOf(res), sha256: res.headers.get('x-kiln-sha256') ?? undefined };
  }

  /** The environments board of a repository, in chain order. */
  listEnvironments(repositoryId: string): Promise<EnvironmentBoardEntry[]> {
    return this.json('GET', `/api/v1/repositories/${segment(repositoryId)}/environments`);
  }

  /** Creates an environment or changes its policy (admins). */
  saveEnvironment(
    repositoryId: string,
    name: string,
    settings: EnvironmentSettings,
  ): Promise<Environment> {
    return this.json('PUT', environmentPath(repositoryId, name), settings);
  }

  /** Deletes an environment and its history (admins); the server answers 204, no body. */
  async deleteEnvironment(repositoryId: string, name: string): Promise<void> {
    const res = await this.send(
      'DELETE',
      environmentPath(repositoryId, name),
      { accept: 'application/json' },
      undefined,
      AbortSignal.timeout(this.timeoutMs),
    );
    await res.body?.cancel();
  }

  /** Every promotion to an environment, newest first: its history. */
  listDeployments(
    repositoryId: string,
    environment: string,
    options: { limit?: number; before?: string } = {},
  ): Promise<Promotion[]> {
    const query = new URLSearchParams();
    if (options.limit !== undefined) query.set('limit', String(options.limit));
    if (options.before !== undefined) query.set('before', options.before);
    const suffix = query.size > 0 ? `?${query.toString()}` : '';
    return this.json('GET', `${environmentPath(repositoryId, environment)}/deployments${suffix}`);
  }

  promote(runId: string, body: { environment: string; comment?: string }): Promise<Promotion> {
    return this.json('POST', `/api/v1/runs/${segment(runId)}/promotions`, body);
  }

  getPromotion(promotionId: string): Promise<Promotion> {
    return this.json('GET', `/api/v1/promotions/${segment(promotionId)}`);
  }

  approvePromotion(promotionId: string, body: { comment?: string }): Promise<Promotion> {
    return this.json('POST', `/api/v1/promotions/${segment(promotionId)}/approve`, body);
  }

  rejectPromotion(promotionId: string, body: { comment?: string }): Promise<Promotion> {
    return this.json('POST', `/api/v1/promotions/${segment(promotionId)}/reject`, body);
  }

  /** The approvals inbox: promotions the caller may decide on, oldest first. */
  listApprovals(): Promise<Promotion[]> {
    return this.json('GET', '/api/v1/approvals');
  }

  /** A job's stored log as it arrives, chunk by chunk. */
  async jobLog(jobId: string, attempt?: number): Promise<ReadableStream<Uint8Array>> {
    const query = attempt === undefined ? '' : `?attempt=${attempt}`;
    const res = await this.send('GET', `/api/v1/jobs/${segment(jobId)}/log${query}`, {
      accept: 'text/plain',
    });
    return bodyOf(res);
  }

  /**
   * Opens a job's live log (Server-Sent Events), resuming after `lastEventId` if given. Not
   * limited in time: `signal` ends it.
   */
  async jobLogStream(
    jobId: string,
    options: { attempt?: number; lastEventId?: string; signal?: AbortSignal } = {},
  ): Promise<ReadableStream<Uint8Array>> {
    const query = options.attempt === undefined ? '' : `?attempt=${options.attempt}`;
    const res = await this.send(
      'GET',
      `/api/v1/jobs/${segment(jobId)}/log/stream${query}`,
      {
        accept: 'text/event-stream',
        ...(options.lastEventId === undefined ? {} : { 'last-event-id': options.lastEventId }),
      },
      undefined,
      options.signal ?? null,
    );
    return bodyOf(res);
  }

  private async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const signal = AbortSignal.timeout(this.timeoutMs);
    const res = await this.send(method, path, { accept: 'application/json' }, body, signal);
    try {
      return (await res.json()) as T;
    } catch (error) {
      throw new ApiError(
        `${method} ${path}: the answer is not JSON (${describe(error)})`,
        undefined,
      );
    }
  }

  private async send(
    method: string,
    path: string,
    headers: Record<string, string>,
    body?: unknown,
    signal: AbortSignal | null = null,
  ): Promise<Response> {
    let res: Response;
    try {
      res = await this.fetch(`${this.server}${path}`, {
        method,
        headers: {
          ...headers,
          'user-agent': this.userAgent,
          ...(this.token === undefined ? {} : { authorization: `Bearer ${this.token}` }),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal,
      });
    } catch (error) {
      if (isTimeout(error)) {
        throw new ApiError(`${this.server} did not answer within ${this.timeoutMs} ms`, undefined);
      }
      throw new ApiError(`cannot reach ${this.server}: ${describe(error)}`, undefined);
    }
    if (!res.ok) throw await this.errorOf(res);
    return res;
  }

  private async errorOf(res: Response): Promise<ApiError> {
    let message = `${res.status} ${res.statusText}`.trim();
    try {
      const body = (await res.json()) as ErrorBody;
      if (typeof body.message === 'string' && body.message !== '') message = body.message;
    } catch {
      // Not JSON (a proxy's page): the status line says enough.
    }
    if (res.status === 401) {
      message +=
        this.token === undefined
          ? ' (log in with `kiln login` or set KILN_TOKEN)'
          : ` (the token was refused by ${this.server})`;
    }
    return new ApiError(message, res.status);
  }
}

function segment(value: string): string {
  return encodeURIComponent(value);
}

function environmentPath(repositoryId: string, name: string): string {
  return `/api/v1/repositories/${segment(repositoryId)}/environments/${segment(name)}`;
}

function bodyOf(res: Response): ReadableStream<Uint8Array> {
  if (res.body === null) throw new ApiError('the answer has no body', res.status);
  return res.body;
}

function isTimeout(error: unknown): boolean {
  return error instanceof DOMException && error.name === 'TimeoutError';
}

/** fetch hides the reason (ECONNREFUSED, …) in `cause`. */
export function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause: unknown = error.cause;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return code === undefined ? cause.message : `${code} (${cause.message})`;
  }
  return error.message;
}
