import { ServerEnv } from '@kiln/config';
import { Module } from '@nestjs/common';
import { join, resolve } from 'node:path';
import { LogsModule } from '../logs/logs.module';
import { ArtifactStorage } from './artifact-storage';
import { ArtifactsController } from './artifacts.controller';
import { ArtifactsService } from './artifacts.service';
import { FilesystemArtifactStorage } from './filesystem-artifact-storage';

/**
 * Jobs' artifacts: uploads from agents (with the task's token, as logs), listing and downloads.
 * The bytes go to an {@link ArtifactStorage}: the filesystem under `KILN_DATA_DIR/artifacts`.
 */
@Module({
  imports: [LogsModule],
  controllers: [ArtifactsController],
  providers: [
    ArtifactsService,
    {
      provide: ArtifactStorage,
      inject: [ServerEnv],
      useFactory: (env: ServerEnv) =>
        new FilesystemArtifactStorage(join(resolve(env.KILN_DATA_DIR), 'artifacts')),
    },
  ],
})
export class ArtifactsModule {}
