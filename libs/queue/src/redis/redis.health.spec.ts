import { strict } from '@kiln/common/testing';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { RedisHealth } from './redis.health';

/** A connection whose PINGs wait for the test to answer them. */
function connection() {
  const pending: ((reply: string) => void)[] = [];
  const redis = strict<Redis>('Redis', {
    status: 'ready',
    ping: () => new Promise<string>((resolve) => pending.push(resolve)),
  });
  return { redis, pending };
}

describe(RedisHealth.name, () => {
  it('answers the checks asked for at once with one PING', async () => {
    const { redis, pending } = connection();
    const health = new RedisHealth(redis);

    const checks = Promise.all([health.check(), health.check(), health.check()]);
    expect(pending).toHaveLength(1);
    pending[0]?.('PONG');

    expect(await checks).toEqual([{ up: true }, { up: true }, { up: true }]);
  });

  it('sends a new PING for a check asked for after the last one was answered', async () => {
    const { redis, pending } = connection();
    const health = new RedisHealth(redis);

    const first = health.check();
    pending[0]?.('PONG');
    await first;
    const second = health.check();

    expect(pending).toHaveLength(2);
    pending[1]?.('PONG');
    expect(await second).toEqual({ up: true });
  });
});
