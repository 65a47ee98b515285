import {
  Inject,
  Logger,
  Module,
  type DynamicModule,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { redactUrl } from '@kiln/common';
import type { Redis } from 'ioredis';
import { connectRedis, createRedisConnection } from './redis-connection';
import { RedisHealth } from './redis.health';
import { REDIS } from './redis.token';

export interface RedisModuleOptions {
  url: string;
  connectionName: string;
}

/** The process's shared Redis command connection, connected before the app starts serving. */
@Module({})
export class RedisModule implements OnApplicationShutdown {
  private readonly logger = new Logger(RedisModule.name);

  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  static forRoot(options: RedisModuleOptions): DynamicModule {
    return {
      module: RedisModule,
      global: true,
      providers: [
        {
          provide: REDIS,
          useFactory: async () => {
            const redis = createRedisConnection(options.url, {
              connectionName: options.connectionName,
            });
            await connectRedis(redis, options.url);
            const logger = new Logger(RedisModule.name);
            const where = redactUrl(options.url);
            logger.log(`connected to Redis at ${where}`);
            // After boot, an outage is waited out: ioredis reconnects with backoff and
            // readiness reports it. One line per state change, not one per retry.
            let down = false;
            redis.on('error', (error: Error) => {
              if (down) return;
              down = true;
              logger.warn(`lost Redis at ${where}: ${error.message}; reconnecting`);
            });
            redis.on('ready', () => {
              if (!down) return;
              down = false;
              logger.log(`Redis at ${where} is back`);
            });
            return redis;
          },
        },
        RedisHealth,
      ],
      exports: [REDIS, RedisHealth],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.redis.status === 'end') return;
    await this.redis.quit().catch(() => this.redis.disconnect());
    this.logger.log('closed the Redis connection');
  }
}
