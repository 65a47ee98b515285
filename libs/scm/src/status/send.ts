import { CommitStatusError } from './commit-status-error';
import { commitStatusRequest } from './request';
import type { CommitStatus, CommitStatusTarget } from './types';

export interface SendCommitStatusOptions {
  /** Aborts the request; a `TimeoutError` reason (AbortSignal.timeout) counts as retryable. */
  signal?: AbortSignal;
  /** Defaults to the global fetch. */
  fetch?: typeof fetch;
}

// The forge's answer is quoted in the error message up to this many characters.
const ANSWER_MAX = 300;

/**
 * Sets `status` on the target commit. Resolves once the forge answered 2xx; otherwise throws
 * CommitStatusError naming the forge, the URL path and the forge's answer, retryable for network
 * failures, 5xx, 429 and rate-limited 403s (GitHub answers 403 for exhausted or secondary rate
 * limits), not for other 4xx. Nothing is retried here: the caller owns backoff and ordering.
 */
export async function sendCommitStatus(
  target: CommitStatusTarget,
  status: CommitStatus,
  options: SendCommitStatusOptions = {},
): Promise<void> {
  const request = commitStatusRequest(target, status);
  const where = `${target.forge} ${request.method} ${new URL(request.url).pathname}`;
  const send = options.fetch ?? fetch;
  let response: Response;
  try {
    response = await send(request.url, {
      method: request.method,
      headers: request.headers,
      body: JSON.stringify(request.body),
      signal: options.signal,
    });
  } catch (error) {
    throw requestFailed(where, error, options.signal);
  }
  // Read the body even on success so the connection can be reused.
  const text = await response.text().catch(() => '');
  if (response.ok) return;
  const answer = forgeAnswer(text);
  throw new CommitStatusError(
    `${where} answered ${response.status}${answer === '' ? '' : `: ${answer}`}`,
    { retryable: isRetryable(response), status: response.status },
  );
}

function isRetryable(response: Response): boolean {
  if (response.status >= 500 || response.status === 429) return true;
  return (
    response.status === 403 &&
    (response.headers.has('retry-after') || response.headers.get('x-ratelimit-remaining') === '0')
  );
}

function requestFailed(
  where: string,
  error: unknown,
  signal: AbortSignal | undefined,
): CommitStatusError {
  if (signal?.aborted === true) {
    // A timeout says the forge was slow, which may pass; any other abort is the caller stopping.
    const timedOut = errorName(signal.reason) === 'TimeoutError';
    return new CommitStatusError(`${where} ${timedOut ? 'timed out' : 'was aborted'}`, {
      retryable: timedOut,
      cause: error,
    });
  }
  return new CommitStatusError(`${where} failed: ${describe(error)}`, {
    retryable: true,
    cause: error,
  });
}

/** fetch reports network failures as `TypeError: fetch failed` with the real reason as cause. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.cause instanceof Error ? `${error.message} (${error.cause.message})` : error.message;
}

function errorName(value: unknown): unknown {
  return typeof value === 'object' && value !== null
    ? (value as { name?: unknown }).name
    : undefined;
}

/**
 * The forge's error message when its JSON carries one (GitHub, Gitea, Forgejo and GitLab:
 * `message`; GitLab also `error`; Bitbucket: `error.message`), else the raw body; on one line,
 * trimmed to ANSWER_MAX characters.
 */
function forgeAnswer(text: string): string {
  let message: unknown = text;
  try {
    const json: unknown = JSON.parse(text);
    message = pickMessage(json) ?? text;
  } catch {
    // Not JSON (a proxy's HTML page, say): quote it as is.
  }
  const line = inline(message).replace(/\s+/g, ' ').trim();
  const chars = Array.from(line);
  return chars.length <= ANSWER_MAX ? line : `${chars.slice(0, ANSWER_MAX - 1).join('')}…`;
}

function pickMessage(json: unknown): unknown {
  if (typeof json !== 'object' || json === null) return undefined;
  const { message, error, errors } = json as {
    message?: unknown;
    error?: unknown;
    errors?: unknown;
  };
  if (message !== undefined && message !== null) {
    // GitHub's 422 says only "Validation Failed" in `message`; the reasons are in `errors`.
    return Array.isArray(errors) && errors.length > 0
      ? `${inline(message)} (${errors.map((item) => inline(pickMessage(item) ?? item)).join('; ')})`
      : message;
  }
  if (typeof error === 'object' && error !== null) {
    const nested = (error as { message?: unknown }).message;
    if (nested !== undefined && nested !== null) return nested;
  }
  return error ?? undefined;
}

function inline(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}
