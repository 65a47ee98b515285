import { Inject, Injectable } from '@nestjs/common';
import type { DatabaseConnection } from '../connect';
import { DATABASE } from '../database.token';

export interface SecretInfo {
  name: string;
  createdAt: Date;
  updatedAt: Date;
}

/** A repository's build secrets, stored sealed: this layer never sees a value in the clear. */
@Injectable()
export class RepositorySecretsRepository {
  constructor(@Inject(DATABASE) private readonly connection: DatabaseConnection) {}

  /** Creates or replaces a secret; answers whether it existed before. */
  async put(
    repositoryId: string,
    name: string,
    sealedValue: string,
    now = new Date(),
  ): Promise<boolean> {
    const at = now.toISOString();
    // Insert first, update on conflict: the unique key decides "created", even under a race.
    const inserted = await this.connection.db
      .insertInto('repository_secrets')
      .values({
        repository_id: repositoryId,
        name,
        sealed_value: sealedValue,
        created_at: at,
        updated_at: at,
      })
      .onConflict((oc) => oc.columns(['repository_id', 'name']).doNothing())
      .returning('name')
      .executeTakeFirst();
    if (inserted !== undefined) return false;
    await this.connection.db
      .updateTable('repository_secrets')
      .set({ sealed_value: sealedValue, updated_at: at })
      .where('repository_id', '=', repositoryId)
      .where('name', '=', name)
      .execute();
    return true;
  }

  async list(repositoryId: string): Promise<SecretInfo[]> {
    const rows = await this.connection.db
      .selectFrom('repository_secrets')
      .select(['name', 'created_at', 'updated_at'])
      .where('repository_id', '=', repositoryId)
      .orderBy('name')
      .execute();
    return rows.map((r) => ({
      name: r.name,
      createdAt: new Date(r.created_at),
      updatedAt: new Date(r.updated_at),
    }));
  }

  /** The sealed values of the named secrets that exist. */
  async sealedValues(repositoryId: string, names: readonly string[]): Promise<Map<string, string>> {
    if (names.length === 0) return new Map();
    const rows = await this.connection.db
      .selectFrom('repository_secrets')
      .select(['name', 'sealed_value'])
      .where('repository_id', '=', repositoryId)
      .where('name', 'in', names)
      .execute();
    return new Map(rows.map((r) => [r.name, r.sealed_value]));
  }

  async delete(repositoryId: string, name: string): Promise<boolean> {
    const result = await this.connection.db
      .deleteFrom('repository_secrets')
      .where('repository_id', '=', repositoryId)
      .where('name', '=', name)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }
}
