import { backoffDelay, errorMessage, sleep } from '@kiln/common';

/** How many times an artifact request is tried, and the backoff between tries. */
export interface RetryPolicy {
  attempts: number;
  baseMs: number;
  maxMs: number;
}

export const ARTIFACT_RETRY: RetryPolicy = { attempts: 3, baseMs: 200, maxMs: 2_000 };

/**
 * A failure the next try would meet again: the server refused (4xx), or what it sent is wrong.
 * Thrown from a `read` callback of {@link requestWithRetries}, it ends the tries at once.
 */
export class FinalFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = FinalFailure.name;
  }
}

/**
 * One request to the server's artifact API, tried again after a backoff when the network fails
 * or the server answers 5xx, up to `policy.attempts` times. `send` makes a new request for each
 * try (a request body is a stream, read once); `read` takes an ok answer, and a failure it throws
 * is tried again too (a body cut off midway), unless it is a {@link FinalFailure}. Throws the
 * last failure: `<status> <the server's message>` for an answer, the network's error otherwise.
 */
export async function requestWithRetries<T>(
  send: () => Promise<Response>,
  read: (res: Response) => Promise<T>,
  signal: AbortSignal,
  policy: RetryPolicy = ARTIFACT_RETRY,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    let failure: string;
    try {
      const res = await send();
      if (res.ok) return await read(res);
      failure = `${res.status} ${serverMessage(await res.text())}`;
      if (res.status < 500) throw new FinalFailure(failure);
    } catch (error) {
      if (error instanceof FinalFailure || signal.aborted) throw error;
      failure = networkMessage(error);
    }
    if (attempt >= policy.attempts) throw new Error(failure);
    await sleep(backoffDelay(attempt, policy.baseMs, policy.maxMs), signal);
  }
}

/** The `message` of Kiln's JSON error body, or the start of whatever else came back. */
function serverMessage(text: string): string {
  try {
    const body = JSON.parse(text) as { message?: unknown };
    if (typeof body.message === 'string') return body.message;
  } catch {
    // Not JSON: the text itself.
  }
  return text.slice(0, 200);
}

/** fetch says only "fetch failed": its cause (`connect ECONNREFUSED …`) is what helps. */
function networkMessage(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : '';
  return cause === '' ? errorMessage(error) : `${errorMessage(error)} (${cause})`;
}
