/** Injection token of the process's shared ioredis connection. */
export const REDIS = Symbol('kiln:redis');
