import { TickBatcher } from '@kiln/common';
import type { CallFailure, EventFrame } from '@kiln/contracts';
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { MAX_BUFFERED_BYTES, type EventStream } from './event-stream';

type Outgoing = { event: object } | { failure: CallFailure } | { processed: number };

/**
 * What one frame carries at most. A tick can make far more (a RECONCILE of 100,000 tasks, many
 * in one frame of calls): they go out in several frames, each a string of bounded size, and a
 * subscriber that does not read them as fast is dropped as any slow one is.
 */
const MAX_ITEMS_PER_FRAME = 5_000;

/**
 * One subscriber's events on its WebSocket: what the master sends within one tick goes out as one
 * frame (`{ events, failures }`), however many agents' updates or offers it holds, up to
 * {@link MAX_ITEMS_PER_FRAME}.
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
    for (let start = 0; start < items.length; start += MAX_ITEMS_PER_FRAME) {
      if (this.socket.readyState !== WebSocket.OPEN) return;
      if (this.socket.bufferedAmount > MAX_BUFFERED_BYTES) {
        this.socket.terminate();
        return;
      }
      this.socket.send(JSON.stringify(frameOf(items.slice(start, start + MAX_ITEMS_PER_FRAME))));
    }
  }
}

/** Items in order as one frame: the events, the failures, and the latest count processed. */
function frameOf(items: readonly Outgoing[]): EventFrame<object> {
  const frame: EventFrame<object> = {};
  for (const item of items) {
    if ('event' in item) (frame.events ??= []).push(item.event);
    else if ('failure' in item) (frame.failures ??= []).push(item.failure);
    else frame.processed = item.processed;
  }
  return frame;
}
