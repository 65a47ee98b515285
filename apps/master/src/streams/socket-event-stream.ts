import { TickBatcher } from '@kiln/common';
import type { CallFailure, EventFrame } from '@kiln/contracts';
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { MAX_BUFFERED_BYTES, type EventStream } from './event-stream';

type Outgoing = { event: object } | { failure: CallFailure } | { processed: number };

/**
 * One subscriber's events on its WebSocket: what the master sends within one tick goes out as one
 * frame (`{ events, failures }`), however many agents' updates or offers it holds.
 */
export class SocketEventStream implements EventStream {
  readonly id = randomUUID();
  private open = true;
  private readonly outgoing: TickBatcher<Outgoing>;

  constructor(
    private readonly socket: WebSocket,
    onClose: () => void,
  ) {
    this.outgoing = new TickBatcher((items) => this.write(items));
    socket.on('close', () => {
      if (!this.open) return;
      this.open = false;
      onClose();
    });
  }

  get isOpen(): boolean {
    return this.open && this.socket.readyState === WebSocket.OPEN;
  }

  send(event: object): boolean {
    return this.queue({ event });
  }

  /** Tells the subscriber that one of its calls was refused; the connection stays open. */
  refuse(failure: CallFailure): void {
    this.queue({ failure });
  }

  /** Tells the subscriber that every call numbered below `count` was carried out or refused. */
  processed(count: number): void {
    this.queue({ processed: count });
  }

  end(): void {
    if (!this.open) return;
    this.outgoing.drain();
    this.socket.close(1000, 'stream ended');
  }

  private queue(item: Outgoing): boolean {
    if (!this.isOpen) return false;
    if (this.socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.socket.terminate();
      return false;
    }
    this.outgoing.add(item);
    return true;
  }

  private write(items: Outgoing[]): void {
    if (this.socket.readyState !== WebSocket.OPEN) return;
    const frame: EventFrame<object> = {};
    for (const item of items) {
      if ('event' in item) (frame.events ??= []).push(item.event);
      else if ('failure' in item) (frame.failures ??= []).push(item.failure);
      else frame.processed = item.processed;
    }
    this.socket.send(JSON.stringify(frame));
  }
}
