import { errorMessage } from '@kiln/common';
import type { RecordChange, RecordChanges } from '@kiln/persistence';
import { REDIS } from '@kiln/queue';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';

/** The Redis channel every server replica publishes record changes to and listens on. */
export const LIVE_CHANNEL = 'kiln:live';

/**
 * Publishes what the repositories report changed to every server replica (Redis pub/sub), where
 * each {@link LiveHub} passes it to the live pages it serves. Best effort, like the log bus: a
 * change lost while Redis is away costs a page one refresh, which its next change (or its
 * reconnect, answered with `reset`) brings.
 */
@Injectable()
export class LiveChanges implements RecordChanges {
  private readonly logger = new Logger(LiveChanges.name);
  /** Changes reported in this turn of the event loop, published together at its end. */
  private due: RecordChange[] = [];

  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  /**
   * Publishes the change, in order, with the others reported in the same turn as one message: a
   * burst of webhooks records its runs a batch at a time, and a message for each of their changes
   * cost the server more than recording them (and again in every replica that received them).
   */
  changed(change: RecordChange): void {
    this.due.push(change);
    if (this.due.length === 1) setImmediate(() => this.publishDue());
  }

  private publishDue(): void {
    const changes = this.due;
    this.due = [];
    this.redis
      .publish(LIVE_CHANNEL, JSON.stringify(changes))
      .catch((error: unknown) =>
        this.logger.warn(`could not publish ${changes.length} changes: ${errorMessage(error)}`),
      );
  }
}

const STRING_FIELDS = ['id', 'repositoryId', 'runId', 'state'] as const;

/**
 * The changes a message on the channel carries, in order (a list, or one change as a replica of an
 * earlier version publishes it), or undefined when it is not that (checked at the boundary).
 */
export function parseRecordChanges(payload: string): RecordChange[] | undefined {
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return undefined;
  }
  const changes = (Array.isArray(value) ? value : [value]).map(recordChangeOf);
  return changes.every((change) => change !== undefined) ? changes : undefined;
}

function recordChangeOf(value: unknown): RecordChange | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  if (typeof record.id !== 'string') return undefined;
  for (const field of STRING_FIELDS) {
    if (record[field] !== undefined && typeof record[field] !== 'string') return undefined;
  }
  switch (record.kind) {
    case 'run':
    case 'environment':
      return typeof record.repositoryId === 'string' ? (value as RecordChange) : undefined;
    case 'job':
      return typeof record.runId === 'string' ? (value as RecordChange) : undefined;
    case 'promotion':
      return value as RecordChange;
    default:
      return undefined;
  }
}
