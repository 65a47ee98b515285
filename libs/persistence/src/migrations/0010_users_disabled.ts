import type { Kysely } from 'kysely';

// When an administrator disabled a user: a disabled user cannot sign in, and their sessions and
// API tokens stop working, while their name stays on everything they did (runs, approvals, audit).

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('users').addColumn('disabled_at', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('users').dropColumn('disabled_at').execute();
}
