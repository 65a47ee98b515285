import { loggerParams } from '@kiln/common';
import { ServerEnv } from '@kiln/config';
import { PersistenceModule } from '@kiln/persistence';
import { RedisModule } from '@kiln/queue';
import { Module, type DynamicModule } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { HealthModule } from './health/health.module';

@Module({})
export class AppModule {
  static forRoot(env: ServerEnv): DynamicModule {
    return {
      module: AppModule,
      imports: [
        LoggerModule.forRoot(loggerParams('kiln-server', env.KILN_LOG_LEVEL)),
        PersistenceModule.forRoot({ url: env.KILN_DATABASE_URL, dataDir: env.KILN_DATA_DIR }),
        RedisModule.forRoot({ url: env.REDIS_URL, connectionName: 'kiln-server' }),
        HealthModule,
      ],
      providers: [{ provide: ServerEnv, useValue: env }],
      exports: [ServerEnv],
      global: true,
    };
  }
}
