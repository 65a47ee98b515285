/** One Server-Sent Event, as the WHATWG event-stream format defines its dispatch. */
export interface SseEvent {
  /** The `event:` field; `message` when the event named none. */
  event: string;
  /** The `data:` lines joined with `\n`. */
  data: string;
  /** The last `id:` seen on the stream so far (ids persist across events), or ''. */
  lastEventId: string;
}

/**
 * Parses a `text/event-stream` incrementally, whatever the chunking: lines end with LF, CRLF or
 * CR (a CR at the end of one chunk and an LF at the start of the next are one line end); a blank
 * line dispatches the event being built; lines starting with `:` are comments; `id:` persists,
 * `retry:` sets the reconnection delay; a field without a colon has an empty value. An event
 * cut off by the end of the stream is never dispatched.
 */
export class SseParser {
  /**
   * The id to send back as `Last-Event-ID` when reconnecting: committed by a blank line only, so
   * the id of an event the connection cut off is never claimed as received.
   */
  lastEventId = '';
  /** The server's `retry:` in milliseconds, if it sent one. */
  retryMs: number | undefined;
  /** Comment lines seen (`: heartbeat`), for callers that watch for liveness. */
  comments = 0;

  private buffer = '';
  private started = false;
  private skipLeadingLf = false;
  private eventType = '';
  private data: string[] = [];
  private idBuffer: string | undefined;

  /** Feeds decoded text; answers the events it completes, in order. */
  push(text: string): SseEvent[] {
    if (!this.started && text !== '') {
      this.started = true;
      if (text.startsWith('\uFEFF')) text = text.slice(1);
    }
    if (this.skipLeadingLf && text.startsWith('\n')) text = text.slice(1);
    this.skipLeadingLf = false;
    this.buffer += text;
    const events: SseEvent[] = [];
    let start = 0;
    for (;;) {
      const end = nextLineEnd(this.buffer, start);
      if (end === -1) break;
      const line = this.buffer.slice(start, end);
      const char = this.buffer[end];
      if (char === '\r') {
        if (end + 1 === this.buffer.length) {
          // The LF of a CRLF may open the next chunk.
          this.skipLeadingLf = true;
          start = end + 1;
        } else {
          start = this.buffer[end + 1] === '\n' ? end + 2 : end + 1;
        }
      } else {
        start = end + 1;
      }
      const event = this.line(line);
      if (event !== undefined) events.push(event);
    }
    this.buffer = this.buffer.slice(start);
    return events;
  }

  private line(line: string): SseEvent | undefined {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) {
      this.comments += 1;
      return undefined;
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.eventType = value;
        break;
      case 'data':
        this.data.push(value);
        break;
      case 'id':
        if (!value.includes('\0')) this.idBuffer = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
      // Unknown fields are ignored, as the format requires.
    }
    return undefined;
  }

  private dispatch(): SseEvent | undefined {
    if (this.idBuffer !== undefined) this.lastEventId = this.idBuffer;
    this.idBuffer = undefined;
    const { data, eventType } = this;
    this.data = [];
    this.eventType = '';
    if (data.length === 0) return undefined;
    return {
      event: eventType === '' ? 'message' : eventType,
      data: data.join('\n'),
      lastEventId: this.lastEventId,
    };
  }
}

function nextLineEnd(text: string, from: number): number {
  for (let i = from; i < text.length; i += 1) {
    const c = text[i];
    if (c === '\n' || c === '\r') return i;
  }
  return -1;
}

export interface FollowEventStreamOptions {
  /** Opens (or reopens) the stream; `lastEventId` is what to resume after. */
  open(lastEventId: string | undefined, signal: AbortSignal): Promise<ReadableStream<Uint8Array>>;
  /** Whether a failure to open or read may be cured by reconnecting (a 404 may not). */
  retryable(error: unknown): boolean;
  /** The delay before the first reconnection, until the server sends `retry:`; doubled after each failure in a row. */
  retryMs?: number;
  maxRetryMs?: number;
  /** Connections in a row that may fail (deliver no event) before giving up. */
  maxFailures?: number;
  /** No byte (not even a heartbeat comment) for this long: the connection is dead, reconnect. */
  idleTimeoutMs?: number;
  /** Told before each reconnection; `failures`: connections in a row that delivered nothing. */
  onReconnect?(failures: number, delayMs: number, error: unknown): void;
}

/**
 * The events of a stream that is reopened with `Last-Event-ID` whenever it drops (an error, or
 * the end of the body) until the consumer stops iterating; stopping closes the connection.
 */
export async function* followEventStream(
  options: FollowEventStreamOptions,
): AsyncGenerator<SseEvent, void, undefined> {
  const maxFailures = options.maxFailures ?? 10;
  let lastEventId: string | undefined;
  let retryMs = options.retryMs ?? 500;
  let failures = 0;
  for (;;) {
    const parser = new SseParser();
    if (lastEventId !== undefined) parser.lastEventId = lastEventId;
    const abort = new AbortController();
    let delivered = false;
    let failure: unknown = new Error('the stream ended');
    try {
      const stream = await options.open(lastEventId, abort.signal);
      for await (const text of decode(stream, abort, options.idleTimeoutMs ?? 60_000)) {
        for (const event of parser.push(text)) {
          delivered = true;
          failures = 0;
          lastEventId = event.lastEventId === '' ? undefined : event.lastEventId;
          yield event;
        }
      }
    } catch (error) {
      if (!options.retryable(error)) throw error;
      failure = error;
    } finally {
      abort.abort();
    }
    if (parser.lastEventId !== '') lastEventId = parser.lastEventId;
    if (parser.retryMs !== undefined) retryMs = parser.retryMs;
    if (!delivered) failures += 1;
    if (failures >= maxFailures) throw failure;
    const delay = Math.min(retryMs * 2 ** Math.max(0, failures - 1), options.maxRetryMs ?? 5_000);
    options.onReconnect?.(failures, delay, failure);
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

/** The stream's text; aborts (and so ends) it after `idleMs` without a byte. */
async function* decode(
  stream: ReadableStream<Uint8Array>,
  abort: AbortController,
  idleMs: number,
): AsyncGenerator<string, void, undefined> {
  const decoder = new TextDecoder('utf-8');
  const reader = stream.getReader();
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      abort.abort(new Error(`no data for ${idleMs} ms`));
      void reader.cancel().catch(() => undefined);
    }, idleMs);
  };
  try {
    arm();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      arm();
      yield decoder.decode(value, { stream: true });
    }
    const rest = decoder.decode();
    if (rest !== '') yield rest;
  } finally {
    clearTimeout(timer);
    await reader.cancel().catch(() => undefined);
  }
}
