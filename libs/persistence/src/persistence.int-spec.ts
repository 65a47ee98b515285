import { createTestDatabase, TEST_DIALECTS, TEST_POSTGRES_URL } from '@kiln/persistence/testing';
import { sql } from 'kysely';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { migrateToLatest } from './migrate';
import { migrations } from './migrations';
import { openMigrated } from './persistence.module';

describe.each(TEST_DIALECTS)('migrations on %s', (dialect) => {
  it('run once and are a no-op the second time', async () => {
    const database = await createTestDatabase(dialect);
    try {
      // The test database is already migrated: running again changes nothing.
      expect(await migrateToLatest(database.db)).toEqual([]);
      const ran = await database.db
        .selectFrom('kysely_migration' as never)
        .select(sql<string>`name`.as('name'))
        .execute();
      expect(ran.map((r) => r.name)).toEqual(Object.keys(migrations));
    } finally {
      await database.drop();
    }
  });
});

describe(openMigrated.name, () => {
  it('creates the SQLite file under the data directory and migrates it', async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'kiln-data-')), 'nested');
    try {
      const connection = await openMigrated({ dataDir });
      expect(connection.location).toBe(join(dataDir, 'kiln.sqlite'));
      await connection.db.selectFrom('repositories').selectAll().execute();
      await connection.db.destroy();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('names an unreachable PostgreSQL without its password', async () => {
    const url = new URL(TEST_POSTGRES_URL);
    url.port = '1';
    url.username = 'kiln';
    url.password = 'hunter2';
    const error = await openMigrated({ url: url.toString(), dataDir: tmpdir() }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(
      /^the postgres database at postgres:\/\/kiln:\*\*\*@127\.0\.0\.1:1\/postgres cannot be used: .*ECONNREFUSED/,
    );
    expect((error as Error).message).not.toContain('hunter2');
  });
});
