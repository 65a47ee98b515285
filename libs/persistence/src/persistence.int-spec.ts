import { createTestDatabase, TEST_DIALECTS, TEST_POSTGRES_URL } from '@kiln/persistence/testing';
import { sql } from 'kysely';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { Client } from 'pg';
import { describe, expect, it, vi } from 'vitest';
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

describe.each(TEST_DIALECTS)('the migration to names in any case on %s', (dialect) => {
  it('stops, naming them, at repositories registered twice in different cases', async () => {
    const database = await createTestDatabase(dialect);
    try {
      const { db } = database;
      // As a database from before it was: no index, no record of the migration.
      await db.schema.dropIndex('repositories_forge_lower_full_name_key').execute();
      await sql`DELETE FROM kysely_migration WHERE name = '0012_repository_names_any_case'`.execute(
        db,
      );
      for (const [id, fullName] of [
        ['r1', 'acme/app'],
        ['r2', 'Acme/App'],
      ]) {
        await sql`INSERT INTO repositories (id, forge, full_name, clone_url, default_branch, created_at, run_counter)
          VALUES (${id}, 'github', ${fullName}, 'https://forge.test/x.git', 'main', '2026-01-01', 0)`.execute(
          db,
        );
      }

      await expect(migrateToLatest(db)).rejects.toThrow(
        'migration 0012_repository_names_any_case failed: repositories registered twice under ' +
          'names that differ only in case (github Acme/App and acme/app)',
      );
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

describe('a PostgreSQL connection', () => {
  async function backendsOf(database: string): Promise<number[]> {
    const admin = new Client({ connectionString: TEST_POSTGRES_URL });
    await admin.connect();
    try {
      const found = await admin.query<{ pid: number }>(
        'SELECT pid FROM pg_stat_activity WHERE datname = $1',
        [database],
      );
      return found.rows.map((row) => row.pid);
    } finally {
      await admin.end();
    }
  }

  it('has closed every connection when close() resolves, so the database can be dropped', async () => {
    const database = await createTestDatabase('postgres');
    const name = new URL(database.options.url!).pathname.slice(1);
    await Promise.all([1, 2, 3].map(() => sql`SELECT pg_sleep(0.05)`.execute(database.db)));
    expect((await backendsOf(name)).length).toBeGreaterThan(0);
    await database.close();
    expect(await backendsOf(name)).toEqual([]);
    await database.drop().catch(() => undefined);
  });

  it('survives the server ending an idle connection, and the next query opens another', async () => {
    const database = await createTestDatabase('postgres');
    const warned = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      const name = new URL(database.options.url!).pathname.slice(1);
      await sql`SELECT 1`.execute(database.db);
      const admin = new Client({ connectionString: TEST_POSTGRES_URL });
      await admin.connect();
      try {
        for (const pid of await backendsOf(name)) {
          await admin.query('SELECT pg_terminate_backend($1)', [pid]);
        }
      } finally {
        await admin.end();
      }
      await vi.waitFor(() =>
        expect(warned).toHaveBeenCalledWith(expect.stringContaining('an idle connection ended')),
      );
      const again = await sql<{ one: number }>`SELECT 1 AS one`.execute(database.db);
      expect(again.rows).toEqual([{ one: 1 }]);
    } finally {
      warned.mockRestore();
      await database.drop();
    }
  });
});
