import type { Kysely } from 'kysely';

// When artifact retention deleted a run's artifacts: such a run is no longer promotable (its
// deploy would run without them).

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('runs').addColumn('artifacts_deleted_at', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('runs').dropColumn('artifacts_deleted_at').execute();
}
