import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { DatabaseConnection } from '../connect';
import { DATABASE } from '../database.token';
import type { Forge, RepositoryRow } from '../schema';

export interface NewRepository {
  forge: Forge;
  fullName: string;
  cloneUrl: string;
  defaultBranch: string;
}

export interface Repository {
  id: string;
  forge: Forge;
  fullName: string;
  cloneUrl: string;
  defaultBranch: string;
  createdAt: Date;
}

/** Thrown when a repository with the same forge and full name is already registered. */
export class DuplicateRepositoryError extends Error {
  constructor(forge: Forge, fullName: string) {
    super(`${forge} repository ${fullName} is already registered`);
    this.name = 'DuplicateRepositoryError';
  }
}

/** The source repositories Kiln builds. */
@Injectable()
export class RepositoriesRepository {
  constructor(@Inject(DATABASE) private readonly connection: DatabaseConnection) {}

  async create(input: NewRepository, now = new Date()): Promise<Repository> {
    const row: RepositoryRow = {
      id: randomUUID(),
      forge: input.forge,
      full_name: input.fullName,
      clone_url: input.cloneUrl,
      default_branch: input.defaultBranch,
      created_at: now.toISOString(),
    };
    // The unique key decides, not a read before the write: two concurrent registrations of one
    // repository must not both succeed.
    const inserted = await this.connection.db
      .insertInto('repositories')
      .values(row)
      .onConflict((oc) => oc.columns(['forge', 'full_name']).doNothing())
      .returningAll()
      .executeTakeFirst();
    if (inserted === undefined) throw new DuplicateRepositoryError(input.forge, input.fullName);
    return toRepository(inserted);
  }

  async findById(id: string): Promise<Repository | undefined> {
    const row = await this.connection.db
      .selectFrom('repositories')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toRepository(row);
  }

  async findByName(forge: Forge, fullName: string): Promise<Repository | undefined> {
    const row = await this.connection.db
      .selectFrom('repositories')
      .selectAll()
      .where('forge', '=', forge)
      .where('full_name', '=', fullName)
      .executeTakeFirst();
    return row && toRepository(row);
  }

  /** All repositories, by name. */
  async list(): Promise<Repository[]> {
    const rows = await this.connection.db
      .selectFrom('repositories')
      .selectAll()
      .orderBy('full_name')
      .orderBy('forge')
      .execute();
    return rows.map(toRepository);
  }
}

function toRepository(row: RepositoryRow): Repository {
  return {
    id: row.id,
    forge: row.forge,
    fullName: row.full_name,
    cloneUrl: row.clone_url,
    defaultBranch: row.default_branch,
    createdAt: new Date(row.created_at),
  };
}
