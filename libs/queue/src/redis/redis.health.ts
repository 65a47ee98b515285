import { errorMessage, withTimeout } from '@kiln/common';
import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { REDIS } from './redis.token';

export interface RedisStatus {
  up: boolean;
  error?: string;
}

/** Answers whether Redis takes a command now, within a deadline. */
@Injectable()
export class RedisHealth {
  /** The PING under way: checks asked for meanwhile wait for its answer instead of sending more. */
  private probe: Promise<unknown> | undefined;

  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  /**
   * Checks asked for at once share one PING: a burst of webhooks, each asking before it records
   * its run, would otherwise send Redis one each.
   */
  async check(timeoutMs = 1_000): Promise<RedisStatus> {
    // While reconnecting, commands wait for the connection (maxRetriesPerRequest: null): ask the
    // connection state first so the probe answers at once.
    if (this.redis.status !== 'ready') {
      return { up: false, error: `connection is ${this.redis.status}` };
    }
    try {
      this.probe ??= this.redis.ping().finally(() => (this.probe = undefined));
      await withTimeout(this.probe, timeoutMs);
      return { up: true };
    } catch (error) {
      return { up: false, error: errorMessage(error) };
    }
  }
}
