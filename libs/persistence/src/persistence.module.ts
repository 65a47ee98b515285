import {
  Inject,
  Logger,
  Module,
  type DynamicModule,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { connectDatabase, type DatabaseConnection, type DatabaseOptions } from './connect';
import { DatabaseHealth } from './database.health';
import { DATABASE } from './database.token';
import { migrateToLatest } from './migrate';
import { AccountsRepository } from './repositories/accounts.repository';
import { ArtifactsRepository } from './repositories/artifacts.repository';
import { AuditRepository } from './repositories/audit.repository';
import { EnvironmentsRepository } from './repositories/environments.repository';
import { IdempotencyKeysRepository } from './repositories/idempotency-keys.repository';
import { JobsRepository } from './repositories/jobs.repository';
import { PromotionsRepository } from './repositories/promotions.repository';
import { RepositoriesRepository } from './repositories/repositories.repository';
import { RepositorySecretsRepository } from './repositories/repository-secrets.repository';
import { RunsRepository } from './repositories/runs.repository';
import { SchedulesRepository } from './repositories/schedules.repository';
import { SettingsRepository } from './repositories/settings.repository';
import { TaskLogsRepository } from './repositories/task-logs.repository';
import { UnitOfWork } from './unit-of-work';

const repositories = [
  AccountsRepository,
  ArtifactsRepository,
  AuditRepository,
  EnvironmentsRepository,
  IdempotencyKeysRepository,
  PromotionsRepository,
  RepositoriesRepository,
  RepositorySecretsRepository,
  RunsRepository,
  JobsRepository,
  SchedulesRepository,
  SettingsRepository,
  TaskLogsRepository,
];

/**
 * Opens the database and migrates it before anything else starts: a process never serves on a
 * schema it does not know. A database that cannot be reached fails the boot with its location.
 */
@Module({})
export class PersistenceModule implements OnApplicationShutdown {
  private readonly logger = new Logger(PersistenceModule.name);

  constructor(@Inject(DATABASE) private readonly connection: DatabaseConnection) {}

  static forRoot(options: DatabaseOptions): DynamicModule {
    return {
      module: PersistenceModule,
      global: true,
      providers: [
        {
          provide: DATABASE,
          useFactory: () => openMigrated(options),
        },
        DatabaseHealth,
        UnitOfWork,
        ...repositories,
      ],
      exports: [DATABASE, DatabaseHealth, UnitOfWork, ...repositories],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.connection.db.destroy();
    this.logger.log(`closed the ${this.connection.dialect} database`);
  }
}

/** Connects and migrates, failing with a message that says which database could not be used. */
export async function openMigrated(options: DatabaseOptions): Promise<DatabaseConnection> {
  const connection = connectDatabase(options);
  const logger = new Logger(PersistenceModule.name);
  try {
    const ran = await migrateToLatest(connection.db);
    logger.log(
      `${connection.dialect} database at ${connection.location} is ready` +
        (ran.length > 0 ? ` (migrated: ${ran.join(', ')})` : ''),
    );
    return connection;
  } catch (error) {
    await connection.db.destroy().catch(() => undefined);
    const why = error instanceof Error ? error.message : String(error);
    throw new Error(
      `the ${connection.dialect} database at ${connection.location} cannot be used: ${why}`,
      { cause: error },
    );
  }
}
