import { ServerEnv } from '@kiln/config';
import { BuildPayload, QUEUES, toPayload } from '@kiln/queue';
import { Processor, WorkerHost } from '@nestjs/bullmq';
import type { OnApplicationBootstrap } from '@nestjs/common';
import type { Job } from 'bullmq';
import { BuildFrameworkService, type PlaceOutcome } from './build-framework.service';
import { BuildOutcomes } from './build-outcomes';

/** Thrown when the server stops with the job still waiting: the next server takes it. */
class ServerStoppingError extends Error {}

/**
 * Queued job attempts → demands of the build framework. A BullMQ job lasts until its task is
 * launched; what happens to the task after that is the framework's and the database's. Locks are
 * short so the jobs of a server that died are picked up again within seconds.
 */
@Processor(QUEUES.builds, { lockDuration: 10_000, stalledInterval: 5_000, maxStalledCount: 1_000 })
export class BuildsWorker extends WorkerHost implements OnApplicationBootstrap {
  constructor(
    private readonly env: ServerEnv,
    private readonly framework: BuildFrameworkService,
    private readonly outcomes: BuildOutcomes,
  ) {
    super();
  }

  onApplicationBootstrap(): void {
    this.worker.concurrency = this.env.KILN_BUILD_CONCURRENCY;
  }

  async process(job: Job<unknown>): Promise<void> {
    const { jobId, attempt } = toPayload(BuildPayload, QUEUES.builds, job.data);
    // Before anything is awaited: BullMQ hands job attempts out in the order they were queued (a
    // run's in the order of its pipeline file), and that is the order they are offered room in.
    const turn = this.framework.takeTurn();
    let placed: PlaceOutcome;
    try {
      const task = await this.outcomes.prepareLaunch(jobId, attempt);
      if (task === undefined) return;
      placed = await this.framework.place(jobId, attempt, task, turn);
    } finally {
      // Nothing to launch, or its preparation failed: later attempts do not wait for it.
      turn.pass();
    }
    switch (placed.outcome) {
      case 'launched':
        return;
      case 'unplaceable':
        return this.outcomes.unplaceable(jobId, attempt, placed.reason);
      case 'dropped':
        if (this.framework.stopping) throw new ServerStoppingError('the server is stopping');
        return;
    }
  }
}
