import { errorMessage } from '@kiln/common';
import {
  ArtifactsRepository,
  PromotionsRepository,
  RepositoriesRepository,
  RunsRepository,
  TERMINAL_RUN_STATES,
  type Repository,
} from '@kiln/persistence';
import { InjectQueue, Processor, WorkerHost } from '@nestjs/bullmq';
import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { QUEUES } from '@kiln/queue';
import type { Queue } from 'bullmq';
import { ArtifactStorage } from './artifact-storage';

const DAY_MS = 24 * 60 * 60 * 1000;

/** What one sweep of a repository deleted. */
export interface RetentionSweep {
  repositoryId: string;
  /** The numbers of the runs whose artifacts went, newest first. */
  runs: number[];
  /** How many artifacts (files) went. */
  artifacts: number;
  /** Their size, in bytes. */
  bytes: number;
}

/**
 * Applies repositories' artifact retention: a run's artifacts go all together, when the run is
 * beyond the newest `runs` runs that have artifacts (by run number), or when its newest artifact
 * is older than `days`; either measure suffices when both are set. Never touched: the runs a
 * promotion needs (deployed now, or about to be), and unfinished runs (a job of theirs may still
 * upload; they are weighed again once they end).
 */
@Injectable()
export class ArtifactRetentionSweeper {
  private readonly logger = new Logger(ArtifactRetentionSweeper.name);

  constructor(
    private readonly repositories: RepositoriesRepository,
    private readonly artifacts: ArtifactsRepository,
    private readonly promotions: PromotionsRepository,
    private readonly storage: ArtifactStorage,
    private readonly runs: RunsRepository,
  ) {}

  /** Sweeps every repository that has a retention policy; one failing does not stop the rest. */
  async sweepAll(now = new Date()): Promise<RetentionSweep[]> {
    const swept: RetentionSweep[] = [];
    for (const repository of await this.repositories.list()) {
      if (!hasPolicy(repository)) continue;
      try {
        swept.push(await this.sweepRepository(repository, now));
      } catch (error) {
        this.logger.error(
          `artifact retention of ${repository.fullName} failed: ${errorMessage(error)}`,
        );
      }
    }
    return swept;
  }

  /** Deletes the artifacts (rows, then bytes) of the runs the repository's policy lets go. */
  async sweep(repositoryId: string, now = new Date()): Promise<RetentionSweep> {
    const repository = await this.repositories.findById(repositoryId);
    if (repository === undefined || !hasPolicy(repository)) {
      return { repositoryId, runs: [], artifacts: 0, bytes: 0 };
    }
    return this.sweepRepository(repository, now);
  }

  private async sweepRepository(repository: Repository, now: Date): Promise<RetentionSweep> {
    const { days, runs: keepRuns } = repository.artifactRetention;
    const swept: RetentionSweep = { repositoryId: repository.id, runs: [], artifacts: 0, bytes: 0 };
    const withArtifacts = await this.artifacts.listRunsWithArtifacts(repository.id);
    const inUse = await this.promotions.runsInUse(repository.id);
    const oldest = days === undefined ? undefined : now.getTime() - days * DAY_MS;
    // Newest first: a run's index is how many newer runs have artifacts.
    for (const [newer, run] of withArtifacts.entries()) {
      const beyondCount = keepRuns !== undefined && newer >= keepRuns;
      const tooOld = oldest !== undefined && run.newestAt.getTime() < oldest;
      if (!beyondCount && !tooOld) continue;
      if (inUse.has(run.runId) || !TERMINAL_RUN_STATES.includes(run.runState)) continue;
      const deleted = await this.artifacts.deleteByRun(run.runId);
      // Marked first: a promotion of it from now on is refused instead of deploying nothing.
      await this.runs.markArtifactsDeleted(run.runId, now);
      try {
        await this.storage.deleteRun(run.runId);
      } catch (error) {
        // The rows are gone, so no later sweep sees these bytes: say where they are.
        this.logger.error(
          `cannot delete the artifact bytes of run #${run.runNumber} (${run.runId}) of ` +
            `${repository.fullName}: ${errorMessage(error)}`,
        );
      }
      // Zero rows: a concurrent sweep deleted them first, and counts them.
      if (deleted === 0) continue;
      swept.runs.push(run.runNumber);
      swept.artifacts += deleted;
      swept.bytes += run.size;
    }
    if (swept.runs.length > 0) {
      this.logger.log(
        `artifact retention of ${repository.fullName} (${describePolicy(repository)}) deleted ` +
          `${swept.artifacts} artifacts (${formatBytes(swept.bytes)}) of runs ` +
          swept.runs.map((n) => `#${n}`).join(', '),
      );
    }
    return swept;
  }
}

function hasPolicy(repository: Repository): boolean {
  const { days, runs } = repository.artifactRetention;
  return days !== undefined || runs !== undefined;
}

function describePolicy(repository: Repository): string {
  const { days, runs } = repository.artifactRetention;
  return [
    ...(runs === undefined ? [] : [`runs: ${runs}`]),
    ...(days === undefined ? [] : [`days: ${days}`]),
  ].join(', ');
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 'B';
  for (const next of units) {
    if (value < 1024) break;
    value /= 1024;
    unit = next;
  }
  return `${value.toFixed(1)} ${unit}`;
}

/** Sweeps every hour, on the hour (UTC). */
export const ARTIFACT_RETENTION_PATTERN = '0 * * * *';

/** The sweep after a start waits this long, for the server to settle first. */
export const ARTIFACT_RETENTION_STARTUP_DELAY_MS = 60_000;

const KEEP = { removeOnComplete: true, removeOnFail: 100 } as const;

/**
 * Registers the sweeps with BullMQ at every start: the hourly job scheduler (upserted, so a
 * Redis that lost it gets it back, and several servers share one) and a sweep shortly after the
 * start, whose job id makes servers starting together add it once.
 */
@Injectable()
export class ArtifactRetentionSchedule implements OnApplicationBootstrap {
  private readonly logger = new Logger(ArtifactRetentionSchedule.name);

  constructor(@InjectQueue(QUEUES.artifactRetention) private readonly queue: Queue) {}

  async onApplicationBootstrap(): Promise<void> {
    try {
      await this.queue.upsertJobScheduler(
        'hourly',
        { pattern: ARTIFACT_RETENTION_PATTERN, tz: 'UTC' },
        { name: 'sweep', data: {}, opts: KEEP },
      );
      await this.queue.add(
        'sweep',
        {},
        // Never kept, failed or not: a kept job of this id would stop the next start's.
        {
          jobId: 'startup',
          delay: ARTIFACT_RETENTION_STARTUP_DELAY_MS,
          removeOnComplete: true,
          removeOnFail: true,
        },
      );
    } catch (error) {
      this.logger.error(`cannot schedule artifact retention: ${errorMessage(error)}`);
    }
  }
}

/** Runs the sweeps, one at a time per server. */
@Processor(QUEUES.artifactRetention, { concurrency: 1 })
export class ArtifactRetentionWorker extends WorkerHost {
  constructor(private readonly retention: ArtifactRetentionSweeper) {
    super();
  }

  async process(): Promise<void> {
    await this.retention.sweepAll();
  }
}
