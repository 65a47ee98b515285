import { createHash } from 'node:crypto';
import { Migrator, type Kysely, type MigrationResult } from 'kysely';
import { migrations } from './migrations';

export class MigrationError extends Error {
  constructor(migration: string | undefined, cause: unknown) {
    const what = migration === undefined ? 'migrations' : `migration ${migration}`;
    const why = cause instanceof Error ? cause.message : String(cause);
    super(`${what} failed: ${why}`, { cause });
    this.name = 'MigrationError';
  }
}

/** Brings the schema to the newest version; returns the names of the migrations it ran. */
export async function migrateToLatest<DB>(db: Kysely<DB>): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: () => Promise.resolve({ ...migrations }) },
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((r: MigrationResult) => r.status === 'Error');
    throw new MigrationError(failed?.migrationName, error);
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** Changes whenever a migration is added or edited: test templates are keyed by it. */
export function migrationsDigest(): string {
  const hash = createHash('sha256');
  for (const [name, migration] of Object.entries(migrations).sort(([a], [b]) =>
    a.localeCompare(b),
  )) {
    // The source text of `up`, so editing a migration during development rebuilds the template.
    hash.update(name).update(migration.up.toString()).update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}
