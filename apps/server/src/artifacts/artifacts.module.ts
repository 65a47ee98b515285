import { ServerEnv } from '@kiln/config';
import { BullModule } from '@nestjs/bullmq';
import { QUEUES } from '@kiln/queue';
import { Module } from '@nestjs/common';
import { join, resolve } from 'node:path';
import { LogsModule } from '../logs/logs.module';
import {
  ArtifactRetentionSweeper,
  ArtifactRetentionSchedule,
  ArtifactRetentionWorker,
} from './artifact-retention';
import { ArtifactStorage } from './artifact-storage';
import { ArtifactsController } from './artifacts.controller';
import { ArtifactsService } from './artifacts.service';
import { FilesystemArtifactStorage } from './filesystem-artifact-storage';

/**
 * Jobs' artifacts: uploads from agents (with the task's token, as logs), listing and downloads,
 * and their retention per repository (swept hourly, see {@link ArtifactRetentionSweeper}).
 * The bytes go to an {@link ArtifactStorage}: the filesystem under `KILN_DATA_DIR/artifacts`.
 */
@Module({
  imports: [LogsModule, BullModule.registerQueue({ name: QUEUES.artifactRetention })],
  controllers: [ArtifactsController],
  providers: [
    ArtifactsService,
    ArtifactRetentionSweeper,
    ArtifactRetentionSchedule,
    ArtifactRetentionWorker,
    {
      provide: ArtifactStorage,
      inject: [ServerEnv],
      useFactory: (env: ServerEnv) =>
        new FilesystemArtifactStorage(join(resolve(env.KILN_DATA_DIR), 'artifacts')),
    },
  ],
})
export class ArtifactsModule {}
