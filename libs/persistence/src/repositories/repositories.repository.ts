import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { DatabaseConnection } from '../connect';
import { DATABASE } from '../database.token';
import type { Forge, RepositoryRow } from '../schema';

export interface NewRepository {
  forge: Forge;
  fullName: string;
  cloneUrl: string;
  defaultBranch: string;
  /** Sealed by the caller: this layer never sees a secret in the clear. */
  sealedWebhookSecret?: string;
  sealedForgeToken?: string;
  apiUrl?: string;
  autoCancelPullRequests?: boolean;
}

export interface Repository {
  id: string;
  forge: Forge;
  fullName: string;
  cloneUrl: string;
  defaultBranch: string;
  createdAt: Date;
  sealedWebhookSecret?: string;
  sealedForgeToken?: string;
  apiUrl?: string;
  autoCancelPullRequests: boolean;
  artifactRetention: ArtifactRetention;
}

/** How long a repository keeps its runs' artifacts; an absent measure keeps them by it. */
export interface ArtifactRetention {
  /** Artifacts older than this many days are deleted. */
  days?: number;
  /** Only the artifacts of the newest this many runs are kept. */
  runs?: number;
}

/** What may change after registration; `null` clears an optional value. */
export interface RepositoryChanges {
  defaultBranch?: string;
  sealedForgeToken?: string | null;
  apiUrl?: string | null;
  autoCancelPullRequests?: boolean;
  artifactRetentionDays?: number | null;
  artifactRetentionRuns?: number | null;
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
      webhook_secret: input.sealedWebhookSecret ?? null,
      forge_token: input.sealedForgeToken ?? null,
      api_url: input.apiUrl ?? null,
      auto_cancel_pull_requests: input.autoCancelPullRequests === false ? 0 : 1,
      run_counter: 0,
      artifact_retention_days: null,
      artifact_retention_runs: null,
    };
    // The unique keys decide, not a read before the write: two concurrent registrations of one
    // repository must not both succeed, whatever the case each spells its name in.
    const inserted = await this.connection.db
      .insertInto('repositories')
      .values(row)
      .onConflict((oc) => oc.doNothing())
      .returningAll()
      .executeTakeFirst();
    if (inserted === undefined) {
      const registered = await this.findByName(input.forge, input.fullName);
      throw new DuplicateRepositoryError(input.forge, registered?.fullName ?? input.fullName);
    }
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

  /** The repository of that name on the forge, in whatever case it is spelled (as forges do). */
  async findByName(forge: Forge, fullName: string): Promise<Repository | undefined> {
    const row = await this.connection.db
      .selectFrom('repositories')
      .selectAll()
      .where('forge', '=', forge)
      // The indexed expression, and the same ASCII folding SQLite's lower() does.
      .where(
        sql`lower(full_name)`,
        '=',
        fullName.replace(/[A-Z]+/g, (s) => s.toLowerCase()),
      )
      .executeTakeFirst();
    return row && toRepository(row);
  }

  async update(id: string, changes: RepositoryChanges): Promise<Repository | undefined> {
    const values: Partial<RepositoryRow> = {};
    if (changes.defaultBranch !== undefined) values.default_branch = changes.defaultBranch;
    if (changes.sealedForgeToken !== undefined) values.forge_token = changes.sealedForgeToken;
    if (changes.apiUrl !== undefined) values.api_url = changes.apiUrl;
    if (changes.autoCancelPullRequests !== undefined) {
      values.auto_cancel_pull_requests = changes.autoCancelPullRequests ? 1 : 0;
    }
    if (changes.artifactRetentionDays !== undefined) {
      values.artifact_retention_days = changes.artifactRetentionDays;
    }
    if (changes.artifactRetentionRuns !== undefined) {
      values.artifact_retention_runs = changes.artifactRetentionRuns;
    }
    if (Object.keys(values).length > 0) {
      await this.connection.db
        .updateTable('repositories')
        .set(values)
        .where('id', '=', id)
        .execute();
    }
    return this.findById(id);
  }

  async setWebhookSecret(id: string, sealed: string): Promise<void> {
    await this.connection.db
      .updateTable('repositories')
      .set({ webhook_secret: sealed })
      .where('id', '=', id)
      .execute();
  }

  async delete(id: string): Promise<boolean> {
    const result = await this.connection.db
      .deleteFrom('repositories')
      .where('id', '=', id)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
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
    ...(row.webhook_secret === null ? {} : { sealedWebhookSecret: row.webhook_secret }),
    ...(row.forge_token === null ? {} : { sealedForgeToken: row.forge_token }),
    ...(row.api_url === null ? {} : { apiUrl: row.api_url }),
    autoCancelPullRequests: row.auto_cancel_pull_requests !== 0,
    artifactRetention: {
      ...(row.artifact_retention_days === null ? {} : { days: row.artifact_retention_days }),
      ...(row.artifact_retention_runs === null ? {} : { runs: row.artifact_retention_runs }),
    },
  };
}
