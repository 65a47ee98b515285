import { errorMessage, redactUrl } from '@kiln/common';
import { Logger } from '@nestjs/common';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, type SqliteDialectConfig } from 'kysely';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Pool, types } from 'pg';
import type { Database, Dialect } from './schema';

export interface DatabaseOptions {
  /** A postgres:// URL; unset means embedded SQLite under `dataDir`. */
  url?: string;
  dataDir: string;
  /** PostgreSQL pool size. */
  poolSize?: number;
}

export interface DatabaseConnection {
  db: Kysely<Database>;
  dialect: Dialect;
  /** Where the data is, safe to print: the SQLite file or the URL without its password. */
  location: string;
  /**
   * Destroys `db` and resolves once every connection has closed. pg's `Pool.end` resolves before
   * the sockets of its idle clients have: whoever drops the database right after must wait here.
   */
  close(): Promise<void>;
}

export const SQLITE_FILE = 'kiln.sqlite';

// COUNT(*) and BIGINT come back from pg as strings by default; Kiln's counts and sizes fit in a
// double, and SQLite returns numbers, so both dialects return numbers.
types.setTypeParser(types.builtins.INT8, (value: string) => Number(value));

/** Opens the database the options name. Nothing is migrated here: see `migrateToLatest`. */
export function connectDatabase(options: DatabaseOptions): DatabaseConnection {
  if (options.url !== undefined) {
    const pool = new Pool({
      connectionString: options.url,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: 5_000,
    });
    const location = redactUrl(options.url);
    // An idle connection the server ends (a restart, pg_terminate_backend, a dropped database)
    // is an `error` on the pool, which has already discarded that client; unhandled, the event
    // would take the whole process down. The next query simply opens another connection.
    pool.on('error', (error) => {
      new Logger('Database').warn(`${location}: an idle connection ended: ${errorMessage(error)}`);
    });
    let open = 0;
    let drained: (() => void) | undefined;
    pool.on('connect', () => {
      open += 1;
    });
    pool.on('remove', () => {
      open -= 1;
      if (open === 0) drained?.();
    });
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return {
      db,
      dialect: 'postgres',
      location,
      close: async () => {
        const closed = open === 0 ? Promise.resolve() : new Promise<void>((r) => (drained = r));
        await db.destroy();
        await closed;
      },
    };
  }
  const dir = resolve(options.dataDir);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, SQLITE_FILE);
  const sqlite = new SqliteDatabase(file);
  // WAL lets readers (the UI, the API) proceed while a writer commits; busy_timeout makes a
  // second writer wait instead of failing with SQLITE_BUSY.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({ database: cachingStatements(sqlite) }),
  });
  return { db, dialect: 'sqlite', location: file, close: () => db.destroy() };
}

/** How many prepared statements a SQLite connection keeps: Kiln has far fewer distinct queries. */
const STATEMENT_CACHE_SIZE = 1_000;

/**
 * better-sqlite3 compiles SQL on every `prepare`, and Kysely prepares every query it runs: a cache
 * by SQL text (queries are parameterized, so the text repeats) took a tenth of the server's CPU
 * away under a burst of webhooks. Statements are reused one query at a time: Kysely's SQLite
 * driver runs one query at a time on its single connection.
 */
function cachingStatements(sqlite: SqliteDatabase.Database): SqliteDialectConfig['database'] {
  const statements = new Map<string, SqliteDatabase.Statement>();
  return {
    close: () => sqlite.close(),
    prepare: (sql: string) => {
      let statement = statements.get(sql);
      if (statement === undefined) {
        statement = sqlite.prepare(sql);
        if (statements.size >= STATEMENT_CACHE_SIZE) {
          const oldest = statements.keys().next().value;
          if (oldest !== undefined) statements.delete(oldest);
        }
        statements.set(sql, statement);
      }
      return statement;
    },
  };
}
