import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { DatabaseConnection } from '../connect';
import { DATABASE } from '../database.token';

export interface Schedule {
  id: string;
  repositoryId: string;
  name: string;
  cron: string;
  branch: string;
  createdAt: Date;
}

export class DuplicateScheduleError extends Error {
  constructor(name: string) {
    super(`the repository already has a schedule named ${name}`);
    this.name = 'DuplicateScheduleError';
  }
}

/** Cron schedules that start runs of a repository's branch. */
@Injectable()
export class SchedulesRepository {
  constructor(@Inject(DATABASE) private readonly connection: DatabaseConnection) {}

  async create(input: Omit<Schedule, 'id' | 'createdAt'>, now = new Date()): Promise<Schedule> {
    const row = {
      id: randomUUID(),
      repository_id: input.repositoryId,
      name: input.name,
      cron: input.cron,
      branch: input.branch,
      created_at: now.toISOString(),
    };
    const inserted = await this.connection.db
      .insertInto('schedules')
      .values(row)
      .onConflict((oc) => oc.columns(['repository_id', 'name']).doNothing())
      .returning('id')
      .executeTakeFirst();
    if (inserted === undefined) throw new DuplicateScheduleError(input.name);
    return { ...input, id: row.id, createdAt: now };
  }

  async findById(id: string): Promise<Schedule | undefined> {
    const row = await this.connection.db
      .selectFrom('schedules')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toSchedule(row);
  }

  async list(repositoryId?: string): Promise<Schedule[]> {
    let query = this.connection.db.selectFrom('schedules').selectAll().orderBy('name');
    if (repositoryId !== undefined) query = query.where('repository_id', '=', repositoryId);
    return (await query.execute()).map(toSchedule);
  }

  async delete(id: string): Promise<boolean> {
    const result = await this.connection.db
      .deleteFrom('schedules')
      .where('id', '=', id)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }
}

function toSchedule(row: {
  id: string;
  repository_id: string;
  name: string;
  cron: string;
  branch: string;
  created_at: string;
}): Schedule {
  return {
    id: row.id,
    repositoryId: row.repository_id,
    name: row.name,
    cron: row.cron,
    branch: row.branch,
    createdAt: new Date(row.created_at),
  };
}
