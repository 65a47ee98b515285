import { ServerEnv } from '@kiln/config';
import { Module } from '@nestjs/common';
import { LogBus } from './log-bus';
import { LogsConfig } from './logs.config';
import { LogsController } from './logs.controller';
import { LogsService } from './logs.service';
import { TaskLogTokenGuard } from './task-log-token.guard';
import { TaskTokens } from './task-tokens';

/**
 * Build logs. Needs, from the app: `SecretBox` (provided under its class), `LogTasks` (provided
 * by the runs module), the database and Redis. The JSON body limit must take a whole chunk:
 * see {@link LOG_CHUNK_BODY_LIMIT}.
 */
@Module({
  controllers: [LogsController],
  providers: [
    LogsService,
    TaskTokens,
    LogBus,
    TaskLogTokenGuard,
    {
      provide: LogsConfig,
      inject: [{ token: ServerEnv, optional: true }],
      useFactory: (env?: ServerEnv) => LogsConfig.from(env),
    },
  ],
  exports: [LogsService, TaskTokens, LogsConfig],
})
export class LogsModule {}

/**
 * The JSON body size a log chunk may need (`app.useBodyParser('json', { limit })`; Express'
 * default is 100 kB): 256 KiB of output, of which a control character takes 6 bytes escaped.
 */
export const LOG_CHUNK_BODY_LIMIT = '2mb';
