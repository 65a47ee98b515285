import type { Kysely } from 'kysely';

// The answers to requests that carried an `Idempotency-Key` header, per caller and key, so a
// client that retries a write gets the first answer instead of a second run or promotion. Rows
// are kept a day.

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('idempotency_keys')
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    // A digest of the method, path and body: the same key on another request is refused.
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    // Null while the first request is being answered.
    .addColumn('status', 'integer')
    .addColumn('body', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('idempotency_keys_pkey', ['user_id', 'key'])
    .execute();
  await db.schema
    .createIndex('idempotency_keys_created_at_idx')
    .on('idempotency_keys')
    .column('created_at')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('idempotency_keys').execute();
}
