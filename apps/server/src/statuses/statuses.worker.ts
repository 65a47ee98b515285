import { errorMessage, KeyedMutex } from '@kiln/common';
import { RepositoriesRepository, RunsRepository } from '@kiln/persistence';
import { QUEUES, REDIS, REPORTED_STATES, StatusPayload, toPayload } from '@kiln/queue';
import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger } from '@nestjs/common';
import { UnrecoverableError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { IntakePressureService } from '../intake/intake-pressure.service';
import { SecretBox } from '../secrets/secret-box';
import { ServerUrl } from '../server-url';
import { CommitStatuses, CommitStatusError } from './commit-statuses';

const CONTEXT = 'kiln';
const DESCRIPTIONS: Record<(typeof REPORTED_STATES)[number], string> = {
  pending: 'queued',
  running: 'running',
  success: 'passed',
  failure: 'failed',
  error: 'could not start: see the run',
  canceled: 'canceled',
};

/** Sets the key to the new rank only if it is higher: the last state reported wins. */
const RAISE_RANK = `local c = tonumber(redis.call('GET', KEYS[1]) or '-1')
if tonumber(ARGV[1]) > c then redis.call('SET', KEYS[1], ARGV[1], 'EX', 604800) return 1 end
return 0`;

/**
 * Reports runs' states to their forges as commit statuses, retried with backoff (forges have
 * outages and rate limits). States are reported in order: one older than what the forge already
 * shows (a retry overtaken by a later state) is dropped, so a commit never goes back to pending.
 * A run's states are reported one at a time (in this process): taken from the queue together, a
 * slow `running` would otherwise reach the forge after `success`, and the commit show it for good.
 */
@Processor(QUEUES.statuses, { concurrency: 16 })
export class StatusesWorker extends WorkerHost {
  private readonly logger = new Logger(StatusesWorker.name);
  private readonly perRun = new KeyedMutex();

  constructor(
    private readonly runs: RunsRepository,
    private readonly repositories: RepositoriesRepository,
    private readonly statuses: CommitStatuses,
    private readonly box: SecretBox,
    private readonly serverUrl: ServerUrl,
    @Inject(REDIS) private readonly redis: Redis,
    pressure: IntakePressureService,
  ) {
    super();
    // Forges want their webhooks answered more than they want a status a second sooner.
    pressure.yields(this);
  }

  async process(job: Job<unknown>): Promise<void> {
    const { runId, state } = toPayload(StatusPayload, QUEUES.statuses, job.data);
    await this.perRun.run(runId, () => this.report(runId, state));
  }

  private async report(runId: string, state: (typeof REPORTED_STATES)[number]): Promise<void> {
    const run = await this.runs.findById(runId);
    const repository = run && (await this.repositories.findById(run.repositoryId));
    if (run === undefined || repository === undefined) return;
    if (repository.sealedForgeToken === undefined && repository.apiUrl === undefined) return;
    const rank = REPORTED_STATES.indexOf(state);
    const key = `kiln:status-rank:${runId}`;
    const reported = Number((await this.redis.get(key)) ?? -1);
    // A rerun of failed jobs reports `pending` again after a final state: the rank restarts.
    if (rank <= reported && !(state === 'pending' && run.state === 'running')) return;
    try {
      await this.statuses.send(
        {
          forge: repository.forge,
          apiUrl: this.statuses.apiUrl(repository.forge, repository.cloneUrl, repository.apiUrl),
          fullName: repository.fullName,
          sha: run.sha,
          ...(repository.sealedForgeToken === undefined
            ? {}
            : { token: this.box.open(repository.sealedForgeToken) }),
        },
        {
          state,
          // A deployment is not the build: its own context, so it never overwrites the build's.
          context: run.environment === undefined ? CONTEXT : `${CONTEXT}/deploy/${run.environment}`,
          description: `Kiln run #${run.number} ${DESCRIPTIONS[state]}`,
          targetUrl: this.serverUrl.resolve(`/repositories/${repository.id}/runs/${run.number}`),
        },
      );
    } catch (error) {
      if (error instanceof CommitStatusError && !error.retryable) {
        this.logger.warn(`the ${state} status of run ${runId} was refused: ${error.message}`);
        throw new UnrecoverableError(error.message);
      }
      throw new Error(`reporting ${state} of run ${runId} failed: ${errorMessage(error)}`);
    }
    if (state === 'pending') await this.redis.set(key, String(rank), 'EX', 604_800);
    else await this.redis.eval(RAISE_RANK, 1, key, String(rank));
  }
}
