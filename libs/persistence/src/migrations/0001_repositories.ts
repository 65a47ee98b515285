import type { Kysely } from 'kysely';

// Migrations use Kysely's schema builder only, so the same file runs on SQLite and PostgreSQL.
// They take Kysely<unknown>: a migration is frozen in time and must not follow later schema types.

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('repositories')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('forge', 'text', (c) => c.notNull())
    .addColumn('full_name', 'text', (c) => c.notNull())
    .addColumn('clone_url', 'text', (c) => c.notNull())
    .addColumn('default_branch', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('repositories_forge_full_name_key', ['forge', 'full_name'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('repositories').execute();
}
