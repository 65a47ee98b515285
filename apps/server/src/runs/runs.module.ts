import { ServerEnv } from '@kiln/config';
import { QUEUES } from '@kiln/queue';
import { BullModule } from '@nestjs/bullmq';
import { Global, Module } from '@nestjs/common';
import { join, resolve } from 'node:path';
import { BuildFrameworkService } from '../builds/build-framework.service';
import { BuildOutcomes } from '../builds/build-outcomes';
import { BuildsWorker } from '../builds/builds.worker';
import { ClusterController } from '../builds/cluster.controller';
import { ClusterStateClient } from '../builds/cluster-state.client';
import { CommitPacks } from '../git/commit-pack';
import { GitMirror } from '../git/git-mirror';
import { TaskSourceController } from '../git/task-source.controller';
import { TaskSource } from '../git/task-source.service';
import { LogTasks } from '../logs/log-tasks';
import { LogsModule } from '../logs/logs.module';
import { RepositoriesModule } from '../repositories/repositories.module';
import { CommitStatuses } from '../statuses/commit-statuses';
import { StatusesWorker } from '../statuses/statuses.worker';
import { DueWork } from './due-work.service';
import { PipelineQueues } from './pipeline-queues';
import { RunLogTasks } from './run-log-tasks';
import { JobSecrets } from './job-secrets';
import { RunProgressService } from './run-progress.service';
import { QueueService } from './queue.service';
import { RunsController } from './runs.controller';
import { RunsService } from './runs.service';
import { PipelineCompiler } from './pipeline-compiler';
import { TriggerService } from './trigger.service';
import { SchedulesService } from './schedules.service';
import { SchedulesWorker } from './schedules.worker';
import { TriggerWorker } from './trigger.worker';

/**
 * The pipeline: runs and jobs, the trigger worker, the build framework that runs jobs on the
 * cluster, and the commit status reporter. One module, because they are one state machine.
 */
@Global()
@Module({
  imports: [
    RepositoriesModule,
    LogsModule,
    BullModule.registerQueue(
      { name: QUEUES.triggers },
      { name: QUEUES.builds },
      { name: QUEUES.statuses },
      { name: QUEUES.schedules },
      { name: QUEUES.promotions },
    ),
  ],
  controllers: [RunsController, ClusterController, TaskSourceController],
  providers: [
    PipelineQueues,
    RunsService,
    JobSecrets,
    RunProgressService,
    QueueService,
    TriggerService,
    DueWork,
    // Made here, not by Nest's injector: its options are the tests' business.
    { provide: PipelineCompiler, useFactory: () => new PipelineCompiler() },
    TriggerWorker,
    SchedulesService,
    SchedulesWorker,
    BuildFrameworkService,
    BuildsWorker,
    StatusesWorker,
    CommitStatuses,
    TaskSource,
    // One for the process: the cluster page's loads and its watcher's readings share its answers.
    {
      provide: ClusterStateClient,
      inject: [ServerEnv],
      useFactory: (env: ServerEnv) =>
        new ClusterStateClient(env.KILN_MASTER_URL, env.KILN_CLUSTER_TOKEN),
    },
    {
      provide: CommitPacks,
      inject: [ServerEnv],
      useFactory: (env: ServerEnv) =>
        new CommitPacks({ maxBytes: env.KILN_MIRROR_PACKS_MB * 1024 * 1024 }),
    },
    { provide: BuildOutcomes, useExisting: RunProgressService },
    { provide: LogTasks, useClass: RunLogTasks },
    {
      provide: GitMirror,
      inject: [ServerEnv],
      useFactory: (env: ServerEnv) => new GitMirror(join(resolve(env.KILN_DATA_DIR), 'mirrors')),
    },
  ],
  exports: [
    RunsService,
    RunProgressService,
    PipelineQueues,
    LogTasks,
    ClusterStateClient,
    TriggerService,
  ],
})
export class RunsModule {}
