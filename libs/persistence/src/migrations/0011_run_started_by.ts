import type { Kysely } from 'kysely';

// Who started a run by hand (a manual run or a rerun): the commit's author is someone else, and
// a run's record must say both.

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('runs').addColumn('started_by', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('runs').dropColumn('started_by').execute();
}
