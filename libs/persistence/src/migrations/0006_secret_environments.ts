import type { Kysely } from 'kysely';

// A secret may be scoped to environments (GitLab's environment scope, GitHub's environment
// secrets): a JSON list of environment names; null: every run that lists it.

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('repository_secrets').addColumn('environments', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('repository_secrets').dropColumn('environments').execute();
}
