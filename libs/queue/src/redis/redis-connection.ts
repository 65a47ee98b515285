import { redactUrl, TimeoutError, withTimeout } from '@kiln/common';
import { Redis, type RedisOptions } from 'ioredis';

export interface RedisConnectionOptions {
  /** Shown in `CLIENT LIST`, so an operator can tell Kiln's connections apart. */
  connectionName: string;
  /** Key prefix for everything this connection touches, e.g. a test's own namespace. */
  keyPrefix?: string;
}

/** Reconnect delays: 100 ms, 200 ms, … capped at 5 s, for as long as Redis stays away. */
export function reconnectDelay(attempt: number): number {
  return Math.min(attempt * 100, 5_000);
}

/**
 * The one place Kiln builds Redis connections. The options are the ones BullMQ needs for
 * blocking workers (`maxRetriesPerRequest: null`: a command waits for the reconnect instead of
 * failing after N tries) and keep reconnecting with backoff while Redis is away; readiness
 * reports the outage meanwhile. The connection is lazy: call {@link connectRedis} to open it.
 */
export function createRedisConnection(url: string, options: RedisConnectionOptions): Redis {
  const redisOptions: RedisOptions = {
    lazyConnect: true,
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    connectTimeout: 3_000,
    connectionName: options.connectionName,
    retryStrategy: reconnectDelay,
  };
  if (options.keyPrefix !== undefined) redisOptions.keyPrefix = options.keyPrefix;
  return new Redis(url, redisOptions);
}

export class RedisUnreachableError extends Error {
  constructor(url: string, reason: string) {
    super(`Redis at ${redactUrl(url)} is unreachable: ${reason}`);
    this.name = 'RedisUnreachableError';
  }
}

/**
 * Opens a lazy connection and waits until it is ready, or fails within `timeoutMs` naming the
 * URL and the last error: at boot an absent Redis is a configuration problem to report, not an
 * outage to wait out.
 */
export async function connectRedis(redis: Redis, url: string, timeoutMs = 3_000): Promise<void> {
  // ioredis reports the cause (ECONNREFUSED, ENOTFOUND, WRONGPASS…) on its error event; the
  // rejected connect() only says "Connection is closed".
  let lastError: string | undefined;
  const onError = (error: Error): void => {
    lastError = describeError(error);
  };
  redis.on('error', onError);
  try {
    await withTimeout(redis.connect(), timeoutMs);
  } catch (error) {
    redis.disconnect();
    const cause = lastError ?? describeError(error);
    const reason = error instanceof TimeoutError ? `${cause} (waited ${timeoutMs} ms)` : cause;
    throw new RedisUnreachableError(url, reason);
  } finally {
    redis.off('error', onError);
  }
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && !error.message.includes(code)
    ? `${code} ${error.message}`
    : error.message;
}
