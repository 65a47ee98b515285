import { STREAM_ID_HEADER } from '@kiln/contracts';
import type { Response } from 'express';
import { randomUUID } from 'node:crypto';

/** A consumer this far behind is not reading: drop it rather than buffer without bound. */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

/**
 * A long-lived HTTP response carrying one JSON event per line (NDJSON), identified by a stream id
 * that the subscriber sends back on its later calls.
 */
export class EventStream {
  readonly id = randomUUID();
  private open = true;

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

  /** Writes one event; false when the stream is closed (the event is dropped). */
  send(event: object): boolean {
    if (!this.open) return false;
    if (this.res.writableLength > MAX_BUFFERED_BYTES) {
      this.res.destroy(new Error('event stream consumer is too slow'));
      return false;
    }
    this.res.write(`${JSON.stringify(event)}\n`);
    return true;
  }

  /** Ends the stream; the subscriber sees end-of-stream and may subscribe again. */
  end(): void {
    if (this.open) this.res.end();
  }
}
