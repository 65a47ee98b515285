import { Inject, Injectable } from '@nestjs/common';
import type { Kysely, Transaction } from 'kysely';
import { AsyncLocalStorage } from 'node:async_hooks';
import type { DatabaseConnection } from './connect';
import { DATABASE } from './database.token';
import type { Database } from './schema';

/** A side effect that must wait for the commit of the writes it follows. */
export type AfterCommit = () => Promise<void> | void;

/** One piece of work of a unit: what it answered, and what it left to do after the commit. */
export interface Written<T> {
  value: T;
  /** Runs the work's after-commit effects in the order they were asked for; rejects on a failure. */
  finish(): Promise<void>;
}

interface Ambient {
  /** The connection's Kysely instance: copies of a connection share it. */
  db: Kysely<Database>;
  tx: Transaction<Database>;
  /** The after-commit effects of the piece of work this context runs. */
  effects: AfterCommit[];
}

const ambient = new AsyncLocalStorage<Ambient>();

function ambientOf(connection: DatabaseConnection): Ambient | undefined {
  const current = ambient.getStore();
  return current?.db === connection.db ? current : undefined;
}

/**
 * Where a repository's query goes: the transaction of the unit of work it runs in, else the
 * connection. A repository whose queries a unit may run must use it: on SQLite the unit's
 * transaction holds the only connection, so a query beside it would wait for it forever.
 */
export function queryTarget(connection: DatabaseConnection): Kysely<Database> {
  return ambientOf(connection)?.tx ?? connection.db;
}

/** A transaction of its own, or, inside a unit of work, the unit's (which commits it). */
export function inTransaction<T>(
  connection: DatabaseConnection,
  work: (tx: Kysely<Database>) => Promise<T>,
): Promise<T> {
  const current = ambientOf(connection);
  return current === undefined ? connection.db.transaction().execute(work) : work(current.tx);
}

/** Runs `effect` now, or, inside a unit of work, once its transaction has committed. */
export async function afterCommit(
  connection: DatabaseConnection,
  effect: AfterCommit,
): Promise<void> {
  const current = ambientOf(connection);
  if (current === undefined) await effect();
  else current.effects.push(effect);
}

/**
 * Several writers' work in one database transaction, so a burst of small writes (the task
 * updates of one moment) commits once instead of once each. What must not happen before the
 * commit (queueing a job, telling live pages, reading what other transactions committed) is
 * deferred with `afterCommit` and left to the caller, per piece of work, once it has committed.
 *
 * Only repositories that use `queryTarget`/`inTransaction` join a unit (JobsRepository);
 * anything else a piece of work needs must wait for the commit.
 */
@Injectable()
export class UnitOfWork {
  constructor(@Inject(DATABASE) private readonly connection: DatabaseConnection) {}

  /**
   * Runs every piece of work at once in one transaction (their statements take turns on its
   * connection) and commits; should any fail, nothing is committed and this rejects with its
   * error. Resolves after the commit, with each piece's answer and its after-commit effects.
   */
  async together<T>(works: ReadonlyArray<() => Promise<T>>): Promise<Written<T>[]> {
    const done = await this.connection.db.transaction().execute(async (tx) => {
      const settled = await Promise.allSettled(
        works.map((work) => {
          const context: Ambient = { db: this.connection.db, tx, effects: [] };
          return ambient.run(context, async () => ({
            value: await work(),
            effects: context.effects,
          }));
        }),
      );
      // Rolled back only once every piece has stopped: a statement after the rollback would run
      // outside any transaction.
      return settled.map((outcome) => {
        if (outcome.status === 'rejected') throw outcome.reason;
        return outcome.value;
      });
    });
    return done.map(({ value, effects }) => ({
      value,
      finish: async () => {
        for (const effect of effects) await effect();
      },
    }));
  }

  /** Runs `effect` now, or, inside a unit of work, once its transaction has committed. */
  afterCommit(effect: AfterCommit): Promise<void> {
    return afterCommit(this.connection, effect);
  }
}
