import { Inject, Injectable } from '@nestjs/common';
import type { DatabaseConnection } from '../connect';
import { DATABASE } from '../database.token';

export interface SecretInfo {
  name: string;
  /** Only deployments to these environments get it; absent: every run that lists it. */
  environments?: string[];
  createdAt: Date;
  updatedAt: Date;
}

/** A secret's sealed value and the environments it is limited to, if any. */
export interface SealedSecret {
  sealedValue: string;
  environments?: string[];
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
    environments?: readonly string[],
    now = new Date(),
  ): Promise<boolean> {
    const at = now.toISOString();
    const scope = environments === undefined ? null : JSON.stringify(environments);
    // Insert first, update on conflict: the unique key decides "created", even under a race.
    const inserted = await this.connection.db
      .insertInto('repository_secrets')
      .values({
        repository_id: repositoryId,
        name,
        sealed_value: sealedValue,
        environments: scope,
        created_at: at,
        updated_at: at,
      })
      .onConflict((oc) => oc.columns(['repository_id', 'name']).doNothing())
      .returning('name')
      .executeTakeFirst();
    if (inserted !== undefined) return false;
    await this.connection.db
      .updateTable('repository_secrets')
      .set({ sealed_value: sealedValue, environments: scope, updated_at: at })
      .where('repository_id', '=', repositoryId)
      .where('name', '=', name)
      .execute();
    return true;
  }

  async list(repositoryId: string): Promise<SecretInfo[]> {
    const rows = await this.connection.db
      .selectFrom('repository_secrets')
      .select(['name', 'environments', 'created_at', 'updated_at'])
      .where('repository_id', '=', repositoryId)
      .orderBy('name')
      .execute();
    return rows.map((r) => ({
      name: r.name,
      ...(r.environments === null ? {} : { environments: JSON.parse(r.environments) as string[] }),
      createdAt: new Date(r.created_at),
      updatedAt: new Date(r.updated_at),
    }));
  }

  /** The named secrets that exist: their sealed values and scopes. */
  async sealedValues(
    repositoryId: string,
    names: readonly string[],
  ): Promise<Map<string, SealedSecret>> {
    if (names.length === 0) return new Map();
    const rows = await this.connection.db
      .selectFrom('repository_secrets')
      .select(['name', 'sealed_value', 'environments'])
      .where('repository_id', '=', repositoryId)
      .where('name', 'in', names)
      .execute();
    return new Map(
      rows.map((r) => [
        r.name,
        {
          sealedValue: r.sealed_value,
          ...(r.environments === null
            ? {}
            : { environments: JSON.parse(r.environments) as string[] }),
        },
      ]),
    );
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
