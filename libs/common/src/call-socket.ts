import type { ClientRequest, IncomingMessage } from 'node:http';
import { MAX_CALLS_PER_FRAME, MAX_FRAME_BYTES, type EventFrame } from '@kiln/contracts';
import WebSocket from 'ws';

/** The server refused to open the connection (a 401 for a wrong token, say). */
export class SocketRefusedError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'SocketRefusedError';
  }
}

/** Bytes a peer may leave unread before the connection is given up as stuck. */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

/**
 * Collects what one side sends within one turn of the event loop and writes it as one frame:
 * a burst of calls or events costs one write and one parse, not one each.
 */
export class TickBatcher<T> {
  private batch: T[] = [];
  private scheduled = false;

  constructor(private readonly flush: (items: T[]) => void) {}

  add(item: T): void {
    this.batch.push(item);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.drain();
    });
  }

  /** Sends what is batched now, before the tick ends (say, right before a connection closes). */
  drain(): void {
    const items = this.batch;
    this.batch = [];
    if (items.length > 0) this.flush(items);
  }
}

/** A call the master refused: the status HTTP would have answered, and why. */
export class SocketCallError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'SocketCallError';
  }
}

interface Pending {
  resolve: () => void;
  reject: (error: Error) => void;
}

/** `{"calls":[` and `]}` around a frame's calls. */
const FRAME_OVERHEAD = '{"calls":[]}'.length;

/** What goes in place of a call too large to send: the master refuses it, as any unknown call. */
const OVERSIZED_CALL = '{"type":"OVERSIZED"}';

/**
 * A client's end of the cluster's WebSocket protocol (`socket.messages.ts` in the contracts):
 * calls go out batched per tick, each answered through the master's cumulative `processed` count
 * (or its `failures`), and events come in as the frames hold them. It does not reconnect by
 * itself: a client decides what a lost connection means.
 */
export class CallSocket<Call> {
  private readonly outgoing: TickBatcher<{ seq: number; call: Call }>;
  /** Events received and not yet read, a frame's worth at a time. */
  private readonly received: unknown[][] = [];
  private readonly pending = new Map<number, Pending>();
  private sent = 0;
  private wake: (() => void) | undefined;
  private ended = false;
  private failure: Error | undefined;

  private constructor(private readonly socket: WebSocket) {
    this.outgoing = new TickBatcher((calls) => this.write(calls));
    socket.on('message', (data, isBinary) => {
      if (isBinary) return this.fail(new Error('the master sent a binary frame'));
      let frame: EventFrame<unknown>;
      try {
        frame = JSON.parse(frameText(data)) as EventFrame<unknown>;
      } catch {
        return this.fail(new Error('the master sent a frame that is not JSON'));
      }
      if (Array.isArray(frame.events) && frame.events.length > 0) {
        this.received.push(frame.events);
        this.wakeReader();
      }
      this.answer(frame);
    });
    socket.on('close', () => {
      this.ended = true;
      this.rejectPending(new Error('the connection to the master closed'));
      this.wakeReader();
    });
    socket.on('error', (error) => this.fail(error));
  }

  /** Opens a connection to `url` (http: or https:, turned into ws: or wss:). */
  static open<Call>(url: string, token: string, signal?: AbortSignal): Promise<CallSocket<Call>> {
    const target = new URL(url);
    target.protocol = target.protocol === 'https:' ? 'wss:' : 'ws:';
    const socket = new WebSocket(target, {
      headers: { authorization: `Bearer ${token}` },
      // Frames are small JSON batches on a local network: compression costs more than it saves.
      perMessageDeflate: false,
      handshakeTimeout: 10_000,
    });
    return new Promise((resolve, reject) => {
      const abort = (): void => {
        socket.terminate();
        reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      };
      if (signal?.aborted === true) return abort();
      signal?.addEventListener('abort', abort, { once: true });
      socket.once('unexpected-response', (request: ClientRequest, response: IncomingMessage) => {
        void refusal(response).then((error) => {
          request.destroy();
          reject(error);
        });
      });
      socket.once('error', reject);
      socket.once('open', () => {
        socket.off('error', reject);
        signal?.removeEventListener('abort', abort);
        signal?.addEventListener('abort', () => socket.terminate(), { once: true });
        resolve(new CallSocket<Call>(socket));
      });
    });
  }

  /**
   * Sends a call in this tick's frame; resolves once the master has carried it out, rejects with
   * a {@link SocketCallError} if it refused it, or with an error if the connection is lost first
   * (the call may then have been carried out or not, as with an HTTP call whose answer is lost).
   */
  call(call: Call): Promise<void> {
    if (this.ended || this.failure !== undefined) {
      return Promise.reject(new Error('the connection to the master is closed'));
    }
    if (this.socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.fail(new Error('the master stopped reading'));
      return Promise.reject(this.failure ?? new Error('the master stopped reading'));
    }
    const seq = this.sent;
    this.sent += 1;
    const answered = new Promise<void>((resolve, reject) => {
      this.pending.set(seq, { resolve, reject });
    });
    this.outgoing.add({ seq, call });
    return answered;
  }

  /**
   * Sends a tick's calls, in order, in as few frames as the master reads: each of at most
   * {@link MAX_CALLS_PER_FRAME} calls and {@link MAX_FRAME_BYTES} bytes, as a larger one would
   * close the connection. A call that no frame could hold is refused here, and a placeholder the
   * master refuses goes in its place: the master numbers calls by their order, so every later
   * call's answer stays its own.
   */
  private write(calls: readonly { seq: number; call: Call }[]): void {
    let frame: string[] = [];
    let bytes = 0;
    const send = (): void => {
      if (frame.length > 0 && this.socket.readyState === WebSocket.OPEN) {
        this.socket.send(`{"calls":[${frame.join(',')}]}`);
      }
      frame = [];
      bytes = FRAME_OVERHEAD;
    };
    send();
    for (const { seq, call } of calls) {
      let json = JSON.stringify(call);
      let size = Buffer.byteLength(json) + 1;
      if (FRAME_OVERHEAD + size > MAX_FRAME_BYTES) {
        this.refuse(seq, size);
        json = OVERSIZED_CALL;
        size = OVERSIZED_CALL.length + 1;
      }
      if (frame.length === MAX_CALLS_PER_FRAME || bytes + size > MAX_FRAME_BYTES) send();
      frame.push(json);
      bytes += size;
    }
    send();
  }

  private refuse(seq: number, size: number): void {
    const message =
      `the call is ${size - 1} bytes: more than the ${MAX_FRAME_BYTES} the master reads in ` +
      'one frame';
    this.pending.get(seq)?.reject(new SocketCallError(413, message));
    this.pending.delete(seq);
  }

  /** The events received, in order, until the connection closes; throws if it failed. */
  async *events(): AsyncGenerator<unknown> {
    for (;;) {
      const batch = this.received.shift();
      if (batch !== undefined) {
        yield* batch;
        continue;
      }
      if (this.failure !== undefined) throw this.failure;
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  close(): void {
    this.socket.close();
  }

  private answer(frame: EventFrame<unknown>): void {
    for (const failure of frame.failures ?? []) {
      this.pending.get(failure.seq)?.reject(new SocketCallError(failure.status, failure.message));
      this.pending.delete(failure.seq);
    }
    const processed = frame.processed;
    if (typeof processed !== 'number') return;
    // Map iteration follows insertion, which is the calls' order.
    for (const [seq, pending] of this.pending) {
      if (seq >= processed) break;
      pending.resolve();
      this.pending.delete(seq);
    }
  }

  private rejectPending(error: Error): void {
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.socket.terminate();
    this.wakeReader();
  }

  private wakeReader(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

/** A text frame's content, however `ws` delivered it. */
export function frameText(data: WebSocket.RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

async function refusal(response: IncomingMessage): Promise<SocketRefusedError> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of response) chunks.push(chunk as Buffer);
  } catch {
    // The body is only the error's wording; the status says enough.
  }
  const body = Buffer.concat(chunks).toString('utf8').slice(0, 500);
  let message = body;
  try {
    const parsed = JSON.parse(body) as { message?: unknown };
    if (typeof parsed.message === 'string') message = parsed.message;
  } catch {
    // Not JSON: the raw text is the message.
  }
  return new SocketRefusedError(
    response.statusCode ?? 0,
    `answered ${response.statusCode ?? '?'}${message === '' ? '' : `: ${message}`}`,
  );
}
