import { STREAM_ID_HEADER } from '@kiln/contracts';
import type { Response } from 'express';
import { randomUUID } from 'node:crypto';

/** A consumer this far behind is not reading: drop it rather than buffer without bound. */
export const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

/**
 * Where the master sends one subscriber's events: an agent's or a framework's subscription, over
 * HTTP ({@link HttpEventStream}) or a WebSocket (`SocketEventStream`). The master's logic sees
 * only this, so both transports follow the same rules.
 */
export interface EventStream {
  /** The subscription's id: HTTP subscribers send it back with their calls. */
  readonly id: string;
  readonly isOpen: boolean;
  /** Queues one event; false when the stream is closed (the event is dropped). */
  send(event: object): boolean;
  /** Ends the stream; the subscriber sees the end and may subscribe again. */
  end(): void;
}

/**
 * A long-lived HTTP response carrying one JSON event per line (NDJSON), identified by a stream id
 * that the subscriber sends back on its later calls. The events of one tick go out in one write.
 */
/**
 * Subscribes through an HTTP event stream. A subscription refused before its stream opened is
 * answered like any refused call, with its status and reason. Should it fail once the stream's
 * headers are out, no error answer can follow them: the connection is cut, so that the caller
 * sees its stream end (and subscribes again) rather than wait on it for ever, and the error is
 * thrown on, to be logged like any other.
 */
export function subscribing(res: Response, subscribe: () => void): void {
  try {
    subscribe();
  } catch (error) {
    if (res.headersSent) res.destroy();
    throw error;
  }
}

export class HttpEventStream implements EventStream {
  readonly id = randomUUID();
  private open = true;
  private pending = '';

  constructor(
    private readonly res: Response,
    onClose: () => void,
  ) {
    res.status(200);
    res.setHeader('content-type', 'application/x-ndjson');
    res.setHeader('cache-control', 'no-store');
    res.setHeader(STREAM_ID_HEADER, this.id);
    res.flushHeaders();
    res.socket?.setNoDelay(true);
    res.on('close', () => {
      if (!this.open) return;
      this.open = false;
      onClose();
    });
  }

  get isOpen(): boolean {
    return this.open;
  }

  send(event: object): boolean {
    if (!this.open) return false;
    if (this.res.writableLength > MAX_BUFFERED_BYTES) {
      this.res.destroy(new Error('event stream consumer is too slow'));
      return false;
    }
    if (this.pending === '') setImmediate(() => this.flush());
    this.pending += `${JSON.stringify(event)}\n`;
    return true;
  }

  end(): void {
    if (!this.open) return;
    this.flush();
    this.res.end();
  }

  private flush(): void {
    if (this.pending === '' || this.res.writableEnded) return;
    this.res.write(this.pending);
    this.pending = '';
  }
}
