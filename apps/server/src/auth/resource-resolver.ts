import {
  JobsRepository,
  PromotionsRepository,
  RunsRepository,
  SchedulesRepository,
} from '@kiln/persistence';
import { Injectable } from '@nestjs/common';
import type { ResourceKind } from './access';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(id: string): boolean {
  return UUID.test(id);
}

/** Which repository a run, job, schedule or promotion belongs to: what object-level checks are made on. */
@Injectable()
export class ResourceResolver {
  constructor(
    private readonly runs: RunsRepository,
    private readonly jobs: JobsRepository,
    private readonly schedules: SchedulesRepository,
    private readonly promotions: PromotionsRepository,
  ) {}

  /** The repository id, or undefined when there is no such object (or the id is malformed). */
  async repositoryOf(kind: ResourceKind, id: string | undefined): Promise<string | undefined> {
    if (id === undefined || !isUuid(id)) return undefined;
    switch (kind) {
      case 'repository':
        return id;
      case 'run':
        return (await this.runs.findById(id))?.repositoryId;
      case 'job': {
        const job = await this.jobs.findById(id);
        return job && (await this.runs.findById(job.runId))?.repositoryId;
      }
      case 'schedule':
        return (await this.schedules.findById(id))?.repositoryId;
      case 'promotion':
        return (await this.promotions.findById(id))?.repositoryId;
    }
  }
}
