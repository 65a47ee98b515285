import { JobsRepository, TERMINAL_JOB_STATES, type WaitingJob } from '@kiln/persistence';
import { Injectable } from '@nestjs/common';
import { AccountsService } from '../accounts/accounts.service';
import type { Principal } from '../auth/principal';
import { planOf } from './job-plan';

/** What waits to run, and why, as far as the caller may see it. */
@Injectable()
export class QueueService {
  constructor(
    private readonly jobs: JobsRepository,
    private readonly accounts: AccountsService,
  ) {}

  async waiting(principal: Principal): Promise<WaitingJob[]> {
    const waiting = await this.jobs.listWaiting(await this.accounts.visibleRepositories(principal));
    return this.explainBlocked(waiting);
  }

  /**
   * A blocked job has no status message of its own: it waits for the jobs it needs, so the
   * answer names those that have not ended yet (one read of the jobs per run).
   */
  private async explainBlocked(waiting: WaitingJob[]): Promise<WaitingJob[]> {
    const runIds = new Set(
      waiting
        .filter((job) => job.state === 'blocked' && job.statusMessage === undefined)
        .map((job) => job.runId),
    );
    const runs = new Map(
      await Promise.all(
        [...runIds].map(async (runId) => [runId, await this.jobs.listByRun(runId)] as const),
      ),
    );
    return waiting.map((job) => {
      const siblings = runs.get(job.runId);
      if (job.state !== 'blocked' || job.statusMessage !== undefined || siblings === undefined) {
        return job;
      }
      const self = siblings.find((sibling) => sibling.id === job.jobId);
      const needs = self === undefined ? [] : planOf(self).needs;
      const pending = siblings.filter(
        (sibling) => needs.includes(sibling.key) && !TERMINAL_JOB_STATES.includes(sibling.state),
      );
      if (pending.length === 0) return job;
      const names = pending.map((sibling) => `${sibling.key} (${sibling.state})`).join(', ');
      return { ...job, statusMessage: `waits for ${names}` };
    });
  }
}
