import type { Response } from 'express';

/** One Server-Sent Event: `id` (when given) is what a reconnecting client sends back. */
export interface SseEvent {
  event: string;
  id?: string;
  data: unknown;
}

/**
 * A Server-Sent Events response: `text/event-stream`, unbuffered by proxies, with a comment
 * every `heartbeatMs` so idle connections are not cut. Writes wait while the client is behind.
 * The live log and the live pages' change events both go out through it.
 */
export class SseStream {
  private open = true;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly closeListeners: (() => void)[] = [];

  constructor(
    private readonly res: Response,
    heartbeatMs: number,
  ) {
    res.status(200);
    res.setHeader('content-type', 'text/event-stream; charset=utf-8');
    res.setHeader('cache-control', 'no-cache, no-transform');
    res.setHeader('x-accel-buffering', 'no');
    res.flushHeaders();
    res.socket?.setNoDelay(true);
    res.write(': connected\n\n');
    this.heartbeat = setInterval(() => {
      if (this.open) res.write(': heartbeat\n\n');
    }, heartbeatMs);
    res.on('close', () => this.markClosed());
  }

  get closed(): boolean {
    return !this.open;
  }

  onClose(listener: () => void): void {
    if (this.open) this.closeListeners.push(listener);
    else listener();
  }

  async send(event: SseEvent): Promise<void> {
    if (!this.open) return;
    const id = event.id === undefined ? '' : `id: ${event.id}\n`;
    const frame = `${id}event: ${event.event}\ndata: ${JSON.stringify(event.data)}\n\n`;
    if (this.res.write(frame)) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      this.res.on('drain', done);
      this.res.on('close', done);
    });
  }

  close(): void {
    if (!this.open) return;
    this.res.end();
    this.markClosed();
  }

  private markClosed(): void {
    if (!this.open) return;
    this.open = false;
    clearInterval(this.heartbeat);
    for (const listener of this.closeListeners.splice(0)) listener();
  }
}
