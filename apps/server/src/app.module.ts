import { ServerEnv } from '@kiln/config';
import { PersistenceModule } from '@kiln/persistence';
import { QUEUE_PREFIX, REDIS, RedisModule } from '@kiln/queue';
import { BullModule } from '@nestjs/bullmq';
import { Module, type DynamicModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import type { Redis } from 'ioredis';
import { join, resolve } from 'node:path';
import { AccountsModule } from './accounts/accounts.module';
import { ArtifactsModule } from './artifacts/artifacts.module';
import { AuditModule } from './audit/audit.module';
import { BootstrapToken } from './accounts/accounts.service';
import { AuthGuard } from './auth/auth.guard';
import { ResourceResolver } from './auth/resource-resolver';
import { HealthModule } from './health/health.module';
import { IntakePressureService } from './intake/intake-pressure.service';
import { LiveModule } from './live/live.module';
import { LogsModule } from './logs/logs.module';
import { ReleasesModule } from './releases/releases.module';
import { RepositoriesModule } from './repositories/repositories.module';
import { RunsModule } from './runs/runs.module';
import { fileBackedValue } from './secrets/keys';
import { SecretBox } from './secrets/secret-box';
import { ServerUrl } from './server-url';
import { WebhooksModule } from './webhooks/webhooks.module';

@Module({})
export class AppModule {
  static forRoot(env: ServerEnv): DynamicModule {
    const dataDir = resolve(env.KILN_DATA_DIR);
    return {
      module: AppModule,
      imports: [
        PersistenceModule.forRoot({ url: env.KILN_DATABASE_URL, dataDir: env.KILN_DATA_DIR }),
        RedisModule.forRoot({ url: env.REDIS_URL, connectionName: 'kiln-server' }),
        BullModule.forRootAsync({
          inject: [REDIS],
          useFactory: (redis: Redis) => ({ connection: redis, prefix: QUEUE_PREFIX }),
        }),
        // Routes are matched in the order their modules come, one after the other: a forge's
        // burst of webhooks goes first, past no other route.
        WebhooksModule,
        LiveModule,
        HealthModule,
        AuditModule,
        AccountsModule,
        RepositoriesModule,
        RunsModule,
        LogsModule,
        ArtifactsModule,
        ReleasesModule,
      ],
      providers: [
        { provide: ServerEnv, useValue: env },
        { provide: ServerUrl, useValue: new ServerUrl(env.KILN_PUBLIC_URL) },
        {
          provide: SecretBox,
          useValue: SecretBox.fromConfig(env.KILN_SECRET_KEY, join(dataDir, 'secret.key')),
        },
        {
          provide: BootstrapToken,
          useValue: new BootstrapToken(
            env.KILN_API_TOKEN ?? fileBackedValue(join(dataDir, 'api-token'), 24),
          ),
        },
        ResourceResolver,
        IntakePressureService,
        { provide: APP_GUARD, useClass: AuthGuard },
      ],
      exports: [
        ServerEnv,
        ServerUrl,
        SecretBox,
        BootstrapToken,
        ResourceResolver,
        IntakePressureService,
      ],
      global: true,
    };
  }
}
