import { EphemeralRedis, freePort } from '@kiln/queue/testing';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connectRedis, createRedisConnection, RedisUnreachableError } from './redis-connection';
import { RedisHealth } from './redis.health';

async function eventually(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe(connectRedis.name, () => {
  const cleanups: (() => Promise<unknown> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('fails at once naming the URL and the cause when nothing listens', async () => {
    const url = `redis://:secret@127.0.0.1:${await freePort()}`;
    const redis = createRedisConnection(url, { connectionName: 'test' });
    const error = await connectRedis(redis, url).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RedisUnreachableError);
    expect((error as Error).message).toMatch(
      /^Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+ is unreachable: .*ECONNREFUSED/,
    );
    // It stops retrying: no further attempt is made after the failure is reported.
    let attempts = 0;
    redis.on('connecting', () => attempts++);
    redis.on('error', () => undefined);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(attempts).toBe(0);
  });

  it('gives up after its deadline when the server accepts but never answers', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket)).listen(0, '127.0.0.1');
    await once(silent, 'listening');
    cleanups.push(() => {
      sockets.forEach((s) => s.destroy());
      silent.close();
    });
    const address = silent.address();
    if (address === null || typeof address === 'string') throw new Error('no address');
    const url = `redis://127.0.0.1:${address.port}`;
    const redis = createRedisConnection(url, { connectionName: 'test' });
    await expect(connectRedis(redis, url, 500)).rejects.toThrow(/waited 500 ms/);
  });
});

describe(RedisHealth.name, () => {
  let server: EphemeralRedis | undefined;
  afterEach(() => server?.stop());

  it('goes red while Redis is away and green again once the connection is back', async () => {
    server = await EphemeralRedis.start();
    const redis = createRedisConnection(server.url, { connectionName: 'test' });
    redis.on('error', () => undefined);
    await connectRedis(redis, server.url);
    const health = new RedisHealth(redis);
    try {
      expect(await health.check()).toEqual({ up: true });

      await server.stop();
      await eventually(async () => !(await health.check()).up, 5_000);
      expect((await health.check()).error).toMatch(/connection is (reconnecting|connecting|close)/);

      await server.start();
      await eventually(async () => (await health.check()).up, 10_000);
      expect(await redis.set('kiln:test', 'back')).toBe('OK');
    } finally {
      redis.disconnect();
    }
  });
});
