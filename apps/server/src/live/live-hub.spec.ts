import { strict } from '@kiln/common/testing';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { ResourceResolver } from '../auth/resource-resolver';
import type { SseEvent } from '../sse-stream';
import { LiveHub, type LiveEvent, type LiveSink } from './live-hub';

const REPO = 'repo-a';
const OTHER = 'repo-b';

/** A stream that keeps what it was sent, and can be closed as a client would. */
class RecordingSink implements LiveSink {
  readonly sent: SseEvent[] = [];
  closed = false;
  private readonly listeners: (() => void)[] = [];
  send(event: SseEvent): Promise<void> {
    this.sent.push(event);
    return Promise.resolve();
  }
  onClose(listener: () => void): void {
    this.listeners.push(listener);
  }
  close(): void {
    this.closed = true;
    for (const listener of this.listeners) listener();
  }
}

function hub(): LiveHub {
  // Neither is used: events are published straight to the hub here.
  return new LiveHub(strict<Redis>('Redis', {}), strict<ResourceResolver>('ResourceResolver', {}));
}

function runChanged(id: string, repositoryId = REPO): LiveEvent {
  return {
    topics: [`run:${id}`, `repository:${repositoryId}`, 'queue'],
    repositoryId,
    kind: 'run',
    id,
    state: 'running',
  };
}

describe(LiveHub.name, () => {
  it('starts a fresh stream with ready, then sends the changes of its topics only', async () => {
    const live = hub();
    const sink = new RecordingSink();
    await live.attach(sink, { topics: new Set(['run:1']), visible: undefined }, undefined);
    live.publish(runChanged('1'));
    live.publish(runChanged('2'));
    expect(sink.sent.map((event) => event.event)).toEqual(['ready', 'change']);
    expect(sink.sent[1]).toEqual({
      event: 'change',
      id: expect.stringMatching(/-1$/) as unknown,
      data: { topics: ['run:1'], kind: 'run', id: '1', state: 'running' },
    });
  });

  it("keeps the queue's changes of repositories the caller cannot see from them", async () => {
    const live = hub();
    const sink = new RecordingSink();
    await live.attach(sink, { topics: new Set(['queue']), visible: new Set([REPO]) }, undefined);
    live.publish(runChanged('1', OTHER));
    live.publish(runChanged('2', REPO));
    live.publish({ topics: ['cluster', 'queue'], kind: 'cluster' });
    expect(sink.sent.map((event) => (event.data as { id?: string }).id)).toEqual([
      undefined, // ready
      '2',
      undefined, // the cluster's, of no repository
    ]);
  });

  it('replays what a stream missed after its Last-Event-ID, on its topics only', async () => {
    const live = hub();
    const first = new RecordingSink();
    const watch = { topics: new Set(['run:1']), visible: undefined };
    await live.attach(first, watch, undefined);
    live.publish(runChanged('1'));
    const lastSeen = first.sent.at(-1)!.id!;
    first.close();
    live.publish({ ...runChanged('1'), state: 'success' });
    live.publish(runChanged('2'));

    const again = new RecordingSink();
    await live.attach(again, watch, lastSeen);
    expect(
      again.sent.map((event) => [event.event, (event.data as { state?: string }).state]),
    ).toEqual([['change', 'success']]);
    // Closed streams are sent nothing.
    expect(first.sent).toHaveLength(2);
  });

  it('tells a stream with an unknown Last-Event-ID to reset, with an id to resume from', async () => {
    const live = hub();
    live.publish(runChanged('1'));
    const sink = new RecordingSink();
    await live.attach(sink, { topics: new Set(['run:1']), visible: undefined }, 'ffff-9');
    expect(sink.sent).toHaveLength(1);
    expect(sink.sent[0]?.event).toBe('reset');
    const resumed = new RecordingSink();
    await live.attach(
      resumed,
      { topics: new Set(['run:1']), visible: undefined },
      sink.sent[0]!.id,
    );
    expect(resumed.sent).toEqual([]);
  });

  it('says which topics are watched as streams come and go', async () => {
    const live = hub();
    const seen: string[][] = [];
    live.onWatchedTopics((topics) => seen.push([...topics].sort()));
    const a = new RecordingSink();
    const b = new RecordingSink();
    await live.attach(a, { topics: new Set(['cluster']), visible: undefined }, undefined);
    await live.attach(b, { topics: new Set(['queue']), visible: undefined }, undefined);
    a.close();
    b.close();
    expect(seen).toEqual([['cluster'], ['cluster', 'queue'], ['queue'], []]);
  });
});
