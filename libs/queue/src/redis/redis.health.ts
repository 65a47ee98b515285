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
  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  async check(timeoutMs = 1_000): Promise<RedisStatus> {
    // While reconnecting, commands wait for the connection (maxRetriesPerRequest: null): ask the
    // connection state first so the probe answers at once.
    if (this.redis.status !== 'ready') {
      return { up: false, error: `connection is ${this.redis.status}` };
    }
    try {
      await withTimeout(this.redis.ping(), timeoutMs);
      return { up: true };
    } catch (error) {
      return { up: false, error: errorMessage(error) };
    }
  }
}
