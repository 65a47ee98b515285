import { Inject, Injectable } from '@nestjs/common';
import type { DatabaseConnection } from '../connect';
import { DATABASE } from '../database.token';

/** What a request that carries an idempotency key is to do. */
export type IdempotencyClaim =
  /** The key is new (or expired): answer the request, then complete or release the key. */
  | { outcome: 'claimed' }
  /** The same request was answered before: answer that again. */
  | { outcome: 'replay'; status: number; body: string }
  /** The same request is being answered now, by another call. */
  | { outcome: 'in-progress' }
  /** The key was used for another request (method, path or body). */
  | { outcome: 'mismatch' };

export interface IdempotencyTimes {
  /** How long an answer is kept. */
  ttlMs: number;
  /** A claim never completed after this long is taken to be abandoned (its server died). */
  staleMs: number;
}

/** The answers to requests that carried an `Idempotency-Key`, per caller and key. */
@Injectable()
export class IdempotencyKeysRepository {
  constructor(@Inject(DATABASE) private readonly connection: DatabaseConnection) {}

  /**
   * Claims `key` of `userId` for the request `fingerprint` stands for, or says why not. Keys past
   * their time are forgotten first (all of them: keyed requests are few).
   */
  async claim(
    userId: string,
    key: string,
    fingerprint: string,
    times: IdempotencyTimes,
    now = new Date(),
  ): Promise<IdempotencyClaim> {
    const { db } = this.connection;
    await db
      .deleteFrom('idempotency_keys')
      .where('created_at', '<', new Date(now.getTime() - times.ttlMs).toISOString())
      .execute();
    await db
      .deleteFrom('idempotency_keys')
      .where('user_id', '=', userId)
      .where('key', '=', key)
      .where('status', 'is', null)
      .where('created_at', '<', new Date(now.getTime() - times.staleMs).toISOString())
      .execute();
    const inserted = await db
      .insertInto('idempotency_keys')
      .values({
        user_id: userId,
        key,
        fingerprint,
        status: null,
        body: null,
        created_at: now.toISOString(),
      })
      .onConflict((oc) => oc.columns(['user_id', 'key']).doNothing())
      .returning('key')
      .executeTakeFirst();
    if (inserted !== undefined) return { outcome: 'claimed' };
    const earlier = await db
      .selectFrom('idempotency_keys')
      .select(['fingerprint', 'status', 'body'])
      .where('user_id', '=', userId)
      .where('key', '=', key)
      .executeTakeFirst();
    // Released between the insert and this read: the caller may simply try again.
    if (earlier === undefined) return { outcome: 'in-progress' };
    if (earlier.fingerprint !== fingerprint) return { outcome: 'mismatch' };
    if (earlier.status === null || earlier.body === null) return { outcome: 'in-progress' };
    return { outcome: 'replay', status: earlier.status, body: earlier.body };
  }

  /** Records the answer to a claimed key. */
  async complete(userId: string, key: string, status: number, body: string): Promise<void> {
    await this.connection.db
      .updateTable('idempotency_keys')
      .set({ status, body })
      .where('user_id', '=', userId)
      .where('key', '=', key)
      .execute();
  }

  /** Forgets a claimed key whose request failed: it created nothing, so a retry may run it. */
  async release(userId: string, key: string): Promise<void> {
    await this.connection.db
      .deleteFrom('idempotency_keys')
      .where('user_id', '=', userId)
      .where('key', '=', key)
      .where('status', 'is', null)
      .execute();
  }
}
