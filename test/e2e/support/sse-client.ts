/** One Server-Sent Event as a client receives it. */
export interface ReceivedEvent {
  event: string;
  id?: string;
  data: unknown;
}

/**
 * A Server-Sent Events stream read with fetch: what a browser's EventSource does, minus the
 * reconnecting, so a test can choose its `Last-Event-ID`.
 */
export class SseClient {
  private buffer = '';
  private readonly events: ReceivedEvent[] = [];
  private waiter: (() => void) | undefined;
  private ended = false;

  private constructor(
    readonly response: Response,
    private readonly abort: AbortController,
  ) {}

  static async open(url: string, headers: Record<string, string>): Promise<SseClient> {
    const abort = new AbortController();
    const response = await fetch(url, {
      headers: { accept: 'text/event-stream', ...headers },
      signal: abort.signal,
    });
    const client = new SseClient(response, abort);
    if (response.ok) void client.read();
    return client;
  }

  /** The next event, waiting for it. */
  async next(): Promise<ReceivedEvent> {
    for (;;) {
      const event = this.events.shift();
      if (event !== undefined) return event;
      if (this.ended) throw new Error('the stream ended');
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  close(): void {
    this.abort.abort();
  }

  private async read(): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of this.response.body as unknown as AsyncIterable<Uint8Array>) {
        this.buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = this.buffer.indexOf('\n\n')) >= 0) {
          const frame = this.buffer.slice(0, end);
          this.buffer = this.buffer.slice(end + 2);
          const event = parse(frame);
          if (event !== undefined) this.events.push(event);
        }
        this.wake();
      }
    } catch {
      // Aborted by close().
    }
    this.ended = true;
    this.wake();
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }
}

/** A frame's fields; undefined for a frame of comments only (the heartbeat). */
function parse(frame: string): ReceivedEvent | undefined {
  let event = 'message';
  let id: string | undefined;
  const data: string[] = [];
  for (const line of frame.split('\n')) {
    if (line.startsWith(':') || line === '') continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'id') id = value;
    else if (field === 'data') data.push(value);
  }
  if (data.length === 0) return undefined;
  return { event, ...(id === undefined ? {} : { id }), data: JSON.parse(data.join('\n')) };
}
