import { errorMessage } from '@kiln/common';
import type { TaskLogChunk, TaskStep } from '@kiln/persistence';
import { REDIS } from '@kiln/queue';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { Redis } from 'ioredis';

/** A chunk just stored, with the steps it started or ended, as followers receive it. */
export interface LiveLogChunk {
  chunk: TaskLogChunk;
  steps: TaskStep[];
}

export type LiveLogListener = (live: LiveLogChunk) => void;

const CHANNEL_PREFIX = 'kiln:logs:';

/**
 * Carries stored chunks to the followers of a task on every server replica, over Redis pub/sub.
 * Best effort: a message lost while Redis is away is not resent, so followers read what they
 * missed from the database (they notice the gap in offsets, or the silence).
 *
 * One subscriber connection serves every follower of this process: a channel per task is
 * subscribed while it has a follower, and its messages fanned out to them.
 */
@Injectable()
export class LogBus implements OnApplicationShutdown {
  private readonly logger = new Logger(LogBus.name);
  private subscriber: Redis | undefined;
  private readonly channels = new Map<
    string,
    { listeners: Set<LiveLogListener>; subscribed: Promise<unknown> }
  >();

  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  /** Sends a stored chunk to its followers; never throws (the chunk is stored either way). */
  publish(live: LiveLogChunk): void {
    this.redis
      .publish(CHANNEL_PREFIX + live.chunk.taskId, JSON.stringify(live))
      .catch((error: unknown) =>
        this.logger.warn(
          `could not publish the log of task ${live.chunk.taskId}: ${errorMessage(error)}`,
        ),
      );
  }

  /**
   * Calls `listener` with every chunk of the task published from when the returned promise
   * resolves (the subscription is in place then) until the returned function is called.
   */
  async subscribe(taskId: string, listener: LiveLogListener): Promise<() => void> {
    const channel = CHANNEL_PREFIX + taskId;
    let entry = this.channels.get(channel);
    if (entry === undefined) {
      entry = { listeners: new Set(), subscribed: this.connection().subscribe(channel) };
      this.channels.set(channel, entry);
    }
    const { listeners, subscribed } = entry;
    listeners.add(listener);
    const unsubscribe = (): void => {
      if (!listeners.delete(listener) || listeners.size > 0) return;
      if (this.channels.get(channel)?.listeners !== listeners) return;
      this.channels.delete(channel);
      // Commands go out in order: a later subscribe to the channel follows this unsubscribe.
      this.subscriber?.unsubscribe(channel).catch(() => undefined);
    };
    try {
      await subscribed;
    } catch (error) {
      unsubscribe();
      throw error;
    }
    return unsubscribe;
  }

  async onApplicationShutdown(): Promise<void> {
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    this.channels.clear();
    if (subscriber !== undefined && subscriber.status !== 'end') {
      await subscriber.quit().catch(() => subscriber.disconnect());
    }
  }

  private connection(): Redis {
    if (this.subscriber !== undefined) return this.subscriber;
    // A connection in subscriber mode takes no other command: it cannot be the shared one.
    const subscriber = this.redis.duplicate();
    subscriber.on('error', (error: Error) =>
      this.logger.warn(`log follower connection to Redis: ${error.message}`),
    );
    subscriber.on('message', (channel: string, payload: string) => {
      const entry = this.channels.get(channel);
      if (entry === undefined) return;
      let live: LiveLogChunk;
      try {
        live = revive(JSON.parse(payload) as LiveLogChunk);
      } catch (error) {
        this.logger.warn(`ignored a malformed message on ${channel}: ${errorMessage(error)}`);
        return;
      }
      for (const listener of entry.listeners) listener(live);
    });
    this.subscriber = subscriber;
    return subscriber;
  }
}

/** Dates travel as ISO strings. */
function revive(live: LiveLogChunk): LiveLogChunk {
  return {
    chunk: { ...live.chunk, createdAt: new Date(live.chunk.createdAt) },
    steps: live.steps.map((step) => ({
      ...step,
      startedAt: new Date(step.startedAt),
      finishedAt: step.finishedAt === null ? null : new Date(step.finishedAt),
    })),
  };
}
