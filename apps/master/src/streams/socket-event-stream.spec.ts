import { EventEmitter } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { MAX_BUFFERED_BYTES } from './event-stream';
import { SocketEventStream } from './socket-event-stream';

/** As much of a WebSocket as the stream uses; `bufferedAmount` grows with what is sent. */
class FakeSocket extends EventEmitter {
  readyState: number = WebSocket.OPEN;
  bufferedAmount = 0;
  readonly frames: { events?: { n: number }[]; processed?: number }[] = [];
  terminated = false;
  constructor(private readonly bytesPerFrame = 0) {
    super();
  }
  send(data: string): void {
    this.frames.push(JSON.parse(data) as { events?: { n: number }[] });
    this.bufferedAmount += this.bytesPerFrame;
  }
  terminate(): void {
    this.terminated = true;
    this.readyState = WebSocket.CLOSED;
  }
}

describe(SocketEventStream.name, () => {
  it('sends what a tick makes in frames of bounded size, in order', async () => {
    const socket = new FakeSocket();
    const stream = new SocketEventStream(socket as unknown as WebSocket, () => undefined);
    for (let n = 0; n < 12_000; n++) stream.send({ n });
    stream.processed(7);
    await vi.waitFor(() => expect(socket.frames.length).toBe(3), 10_000);
    expect(socket.frames.map((f) => f.events?.length)).toEqual([5_000, 5_000, 2_000]);
    expect(socket.frames.flatMap((f) => f.events ?? []).map((e) => e.n)).toEqual(
      Array.from({ length: 12_000 }, (_, n) => n),
    );
    expect(socket.frames.at(-1)?.processed).toBe(7);
  });

  it('drops a subscriber that does not read what one tick made', async () => {
    const socket = new FakeSocket(MAX_BUFFERED_BYTES + 1);
    const stream = new SocketEventStream(socket as unknown as WebSocket, () => undefined);
    for (let n = 0; n < 100_000; n++) stream.send({ n });
    await vi.waitFor(() => expect(socket.terminated).toBe(true), 10_000);
    expect(socket.frames.length).toBe(1);
  });
});
