export * from './redis/redis-connection';
export * from './redis/redis.health';
export * from './redis/redis.module';
export * from './redis/redis.token';
export * from './queues/queues';
