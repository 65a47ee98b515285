import { IsString } from 'class-validator';
import { EnvEnum } from './decorators';
import { IsRedisUrl } from './url.validators';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Variables every Kiln process reads. */
export class CommonEnv {
  /** Minimum level of the JSON log lines written to stdout. */
  @EnvEnum(LOG_LEVELS)
  readonly KILN_LOG_LEVEL: LogLevel = 'info';

  /** Everything Kiln keeps on disk lives under this directory. */
  @IsString()
  readonly KILN_DATA_DIR: string = './data';
}

/** Variables of processes that talk to Redis. */
export class RedisEnv extends CommonEnv {
  @IsRedisUrl()
  readonly REDIS_URL: string = 'redis://127.0.0.1:6379';
}
