import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { connectDatabase, type DatabaseConnection } from '../connect';
import { migrateToLatest, migrationsDigest } from '../migrate';
import type { Dialect } from '../schema';

/** The PostgreSQL server tests use; a database of its own is created for every test. */
export const TEST_POSTGRES_URL =
  process.env.KILN_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export const TEST_DIALECTS: readonly Dialect[] = ['sqlite', 'postgres'];

export interface TestDatabase extends DatabaseConnection {
  /** The options a Kiln process would be given to open this same database. */
  options: { url?: string; dataDir: string };
  /** Closes the connection and deletes the database. */
  drop(): Promise<void>;
}

/**
 * A fresh, migrated database for one test. SQLite: a new file in a temporary directory.
 * PostgreSQL: `CREATE DATABASE … TEMPLATE` from a template migrated once per schema version,
 * which takes milliseconds instead of re-running every migration for every test.
 */
export async function createTestDatabase(dialect: Dialect): Promise<TestDatabase> {
  const dataDir = mkdtempSync(join(tmpdir(), 'kiln-db-'));
  if (dialect === 'sqlite') {
    const connection = connectDatabase({ dataDir });
    await migrateToLatest(connection.db);
    return {
      ...connection,
      options: { dataDir },
      drop: async () => {
        await connection.close();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  }
  const name = `kiln_test_${randomUUID().replaceAll('-', '')}`;
  await withAdmin((admin) => createFromTemplate(admin, name));
  const url = databaseUrl(name);
  const connection = connectDatabase({ url, dataDir, poolSize: 4 });
  return {
    ...connection,
    options: { url, dataDir },
    drop: async () => {
      // Every connection closed before the drop, whose FORCE would otherwise end one mid-close.
      await connection.close();
      await withAdmin((admin) => admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function databaseUrl(name: string): string {
  const url = new URL(TEST_POSTGRES_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function withAdmin<T>(work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: TEST_POSTGRES_URL });
  try {
    await client.connect();
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new Error(
      `PostgreSQL for tests at ${TEST_POSTGRES_URL} is unreachable (${why}); ` +
        'run scripts/services.sh or set KILN_TEST_POSTGRES_URL',
    );
  }
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * Copies the migrated template of the current set of migrations into database `name`, building
 * the template first if no earlier test did. Test files run in parallel processes: an advisory
 * lock makes one of them build it while the others wait, and serializes the copies, because
 * PostgreSQL refuses to copy a template that another session is connected to.
 */
async function createFromTemplate(admin: Client, name: string): Promise<void> {
  const template = `kiln_template_${migrationsDigest()}`;
  await admin.query(`SELECT pg_advisory_lock(hashtext('kiln-test-template'))`);
  try {
    const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [template]);
    if (found.rowCount === 0) {
      await admin.query(`CREATE DATABASE ${template}`);
      const connection = connectDatabase({ url: databaseUrl(template), dataDir: tmpdir() });
      try {
        await migrateToLatest(connection.db);
      } catch (error) {
        await connection.db.destroy();
        await admin.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`);
        throw error;
      }
      await connection.db.destroy();
    }
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
  } finally {
    // The lock is released, not the template: it serves every later test file and run.
    await admin.query(`SELECT pg_advisory_unlock(hashtext('kiln-test-template'))`);
  }
}
