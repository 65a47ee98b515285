import { errorMessage } from '@kiln/common';
import type { RecordChange } from '@kiln/persistence';
import { REDIS } from '@kiln/queue';
import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import type { Redis } from 'ioredis';
import { ResourceResolver } from '../auth/resource-resolver';
import type { SseEvent } from '../sse-stream';
import { EventRing } from './event-ring';
import { LIVE_CHANNEL, parseRecordChanges } from './live-changes';
import { topicsOf } from './live-topics';

/** What a live page is told: which of its topics changed, and what changed, in brief. */
export interface LiveEvent {
  topics: string[];
  /** The repository it belongs to; none for the cluster's own events. */
  repositoryId?: string;
  kind: RecordChange['kind'] | 'cluster';
  id?: string;
  state?: string;
}

/** Where a stream's events go (an SSE response in the app). */
export interface LiveSink {
  send(event: SseEvent): Promise<void>;
  onClose(listener: () => void): void;
  close(): void;
  readonly closed: boolean;
}

export interface LiveWatch {
  topics: ReadonlySet<string>;
  /** The repositories the caller may see; undefined: all (an administrator). */
  visible: ReadonlySet<string> | undefined;
}

/** Events kept for resumption, per process: minutes of a busy installation's changes. */
export const LIVE_RING_CAPACITY = 2_048;
const REPOSITORY_CACHE_SIZE = 10_000;

/**
 * The live pages this process serves. Every record change arrives here once, from the Redis
 * channel (whichever replica made it), is numbered in this process's {@link EventRing}, and goes
 * to each stream watching one of its topics. A stream that reconnects with `Last-Event-ID` gets
 * what it missed from the ring, or `reset` when the ring cannot tell (then it reloads).
 */
@Injectable()
export class LiveHub implements OnModuleInit, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger(LiveHub.name);
  private readonly ring = new EventRing<LiveEvent>(LIVE_RING_CAPACITY);
  private readonly streams = new Map<LiveSink, LiveWatch>();
  private readonly repositoryOf = new Map<string, string>();
  private subscriber: Redis | undefined;
  private readonly topicListeners = new Set<(topics: ReadonlySet<string>) => void>();

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    private readonly resources: ResourceResolver,
  ) {}

  async onModuleInit(): Promise<void> {
    // A connection in subscriber mode takes no other command: it cannot be the shared one.
    const subscriber = this.redis.duplicate();
    subscriber.on('error', (error: Error) =>
      this.logger.warn(`live pages' connection to Redis: ${error.message}`),
    );
    subscriber.on('message', (_channel: string, payload: string) => {
      const changes = parseRecordChanges(payload);
      if (changes === undefined) {
        this.logger.warn(`ignored a malformed message on ${LIVE_CHANNEL}`);
        return;
      }
      for (const change of changes) {
        this.receive(change).catch((error: unknown) =>
          this.logger.warn(`a ${change.kind} change was not passed on: ${errorMessage(error)}`),
        );
      }
    });
    this.subscriber = subscriber;
    await subscriber.subscribe(LIVE_CHANNEL);
  }

  /** Open streams would hold the HTTP server open; their pages reconnect (and resume) elsewhere. */
  beforeApplicationShutdown(): void {
    for (const sink of [...this.streams.keys()]) sink.close();
  }

  async onApplicationShutdown(): Promise<void> {
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    if (subscriber !== undefined && subscriber.status !== 'end') {
      await subscriber.quit().catch(() => subscriber.disconnect());
    }
  }

  /**
   * Serves `sink` until it closes: first what it missed since `lastEventId` (or `reset` when
   * that cannot be known), or `ready` on a fresh stream, then each event on its topics.
   */
  async attach(sink: LiveSink, watch: LiveWatch, lastEventId: string | undefined): Promise<void> {
    // Synchronous from reading the ring to joining the streams: no event falls in between.
    const missed = lastEventId === undefined ? [] : this.ring.since(lastEventId);
    const first: SseEvent[] =
      lastEventId === undefined
        ? [{ event: 'ready', id: this.ring.headId, data: {} }]
        : missed === undefined
          ? [{ event: 'reset', id: this.ring.headId, data: {} }]
          : missed.flatMap((entry) => {
              const event = this.eventFor(watch, entry.value, entry.id);
              return event === undefined ? [] : [event];
            });
    this.streams.set(sink, watch);
    sink.onClose(() => {
      this.streams.delete(sink);
      this.topicsChanged();
    });
    this.topicsChanged();
    // Each send writes at once, in order: a live event published meanwhile comes after them all.
    await Promise.all(first.map((event) => sink.send(event)));
  }

  /** Numbers `event` and sends it to the streams watching one of its topics. */
  publish(event: LiveEvent): void {
    const entry = this.ring.append(event);
    for (const [sink, watch] of this.streams) {
      const sse = this.eventFor(watch, event, entry.id);
      if (sse !== undefined && !sink.closed) {
        sink.send(sse).catch(() => undefined);
      }
    }
  }

  /** The topics some stream of this process watches, whenever they change. */
  onWatchedTopics(listener: (topics: ReadonlySet<string>) => void): void {
    this.topicListeners.add(listener);
  }

  private topicsChanged(): void {
    const topics = new Set<string>();
    for (const watch of this.streams.values()) for (const topic of watch.topics) topics.add(topic);
    for (const listener of this.topicListeners) listener(topics);
  }

  private eventFor(watch: LiveWatch, event: LiveEvent, id: string): SseEvent | undefined {
    const topics = event.topics.filter((topic) => watch.topics.has(topic));
    if (topics.length === 0) return undefined;
    if (
      event.repositoryId !== undefined &&
      watch.visible !== undefined &&
      !watch.visible.has(event.repositoryId)
    ) {
      return undefined;
    }
    const { kind, id: recordId, state } = event;
    return { event: 'change', id, data: { topics, kind, id: recordId, state } };
  }

  private async receive(change: RecordChange): Promise<void> {
    const repositoryId = await this.repositoryOfChange(change);
    if (repositoryId === undefined) return;
    this.publish({
      topics: topicsOf(change, repositoryId),
      repositoryId,
      kind: change.kind,
      id: change.id,
      ...(change.kind !== 'environment' && change.state !== undefined
        ? { state: change.state }
        : {}),
    });
  }

  /** Which repository a change belongs to; a run's or promotion's never changes, so it is kept. */
  private async repositoryOfChange(change: RecordChange): Promise<string | undefined> {
    if ((change.kind === 'run' || change.kind === 'environment') && change.repositoryId) {
      return change.repositoryId;
    }
    if (change.kind === 'promotion' && change.repositoryId !== undefined) {
      return change.repositoryId;
    }
    const [kind, id] =
      change.kind === 'job'
        ? (['run', change.runId] as const)
        : (['promotion', change.id] as const);
    const key = `${kind}:${id}`;
    const known = this.repositoryOf.get(key);
    if (known !== undefined) return known;
    const found = await this.resources.repositoryOf(kind, id);
    if (found === undefined) return undefined;
    if (this.repositoryOf.size >= REPOSITORY_CACHE_SIZE) this.repositoryOf.clear();
    this.repositoryOf.set(key, found);
    return found;
  }
}
