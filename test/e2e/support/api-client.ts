/** A status and a body, as the API answered. */
export interface ApiAnswer<T> {
  status: number;
  /** JSON parsed; text as it came (a log); undefined when empty or a stream left unread. */
  body: T;
}

/** Long enough for any call a test makes; a hung one fails naming itself, not the test's timeout. */
const CALL_TIMEOUT_MS = 10_000;

/**
 * The server's HTTP API as one caller uses it: with a bearer token, or without one (anonymous).
 * For the integration tests (a server in the process) and the e2e tests (a server process) alike.
 */
export class ApiClient {
  constructor(
    readonly url: string,
    readonly token?: string,
    /** Who calls, for the messages of failed calls. */
    readonly caller?: string,
  ) {}

  async call<T = unknown>(method: string, path: string, body?: unknown): Promise<ApiAnswer<T>> {
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers: {
        ...(this.token === undefined ? {} : { authorization: `Bearer ${this.token}` }),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
    });
    const type = res.headers.get('content-type') ?? '';
    // A stream (a live log) does not end while its job runs: only its status is of use.
    if (type.startsWith('text/event-stream')) {
      await res.body?.cancel();
      return { status: res.status, body: undefined as T };
    }
    const text = await res.text();
    const parsed: unknown =
      text === '' ? undefined : type.includes('json') ? JSON.parse(text) : text;
    return { status: res.status, body: parsed as T };
  }

  /** The body of a call that must succeed; a failed one throws with its status and body. */
  async ok<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const answer = await this.call<T>(method, path, body);
    if (answer.status >= 300) {
      const who = this.caller === undefined ? '' : `${this.caller}: `;
      throw new Error(`${who}${method} ${path} → ${answer.status} ${JSON.stringify(answer.body)}`);
    }
    return answer.body;
  }
}
