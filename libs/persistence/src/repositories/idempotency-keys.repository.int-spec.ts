import { createTestDatabase, TEST_DIALECTS, type TestDatabase } from '@kiln/persistence/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IdempotencyKeysRepository } from './idempotency-keys.repository';

const TIMES = { ttlMs: 24 * 3_600_000, staleMs: 300_000 };
const at = (iso: string) => new Date(iso);

describe.each(TEST_DIALECTS)(`${IdempotencyKeysRepository.name} on %s`, (dialect) => {
  let database: TestDatabase;
  let keys: IdempotencyKeysRepository;

  beforeEach(async () => {
    database = await createTestDatabase(dialect);
    keys = new IdempotencyKeysRepository(database);
  });
  afterEach(() => database.drop());

  it('claims a key once, then replays its answer to the same request only', async () => {
    const now = at('2026-01-01T10:00:00Z');
    expect(await keys.claim('u1', 'k', 'req-a', TIMES, now)).toEqual({ outcome: 'claimed' });
    expect(await keys.claim('u1', 'k', 'req-a', TIMES, now)).toEqual({ outcome: 'in-progress' });
    await keys.complete('u1', 'k', 202, '{"id":"run-1"}');
    expect(await keys.claim('u1', 'k', 'req-a', TIMES, now)).toEqual({
      outcome: 'replay',
      status: 202,
      body: '{"id":"run-1"}',
    });
    expect(await keys.claim('u1', 'k', 'req-b', TIMES, now)).toEqual({ outcome: 'mismatch' });
    // Another caller's key of the same name is theirs.
    expect(await keys.claim('u2', 'k', 'req-b', TIMES, now)).toEqual({ outcome: 'claimed' });
  });

  it('forgets a released claim, an abandoned claim and an answer a day old', async () => {
    await keys.claim('u1', 'released', 'r', TIMES, at('2026-01-01T10:00:00Z'));
    await keys.release('u1', 'released');
    expect(await keys.claim('u1', 'released', 'r', TIMES, at('2026-01-01T10:00:01Z'))).toEqual({
      outcome: 'claimed',
    });

    await keys.claim('u1', 'abandoned', 'r', TIMES, at('2026-01-01T10:00:00Z'));
    expect(await keys.claim('u1', 'abandoned', 'r', TIMES, at('2026-01-01T10:04:00Z'))).toEqual({
      outcome: 'in-progress',
    });
    expect(await keys.claim('u1', 'abandoned', 'r', TIMES, at('2026-01-01T10:06:00Z'))).toEqual({
      outcome: 'claimed',
    });

    await keys.claim('u1', 'old', 'r', TIMES, at('2026-01-01T10:00:00Z'));
    await keys.complete('u1', 'old', 201, '{}');
    // A release never forgets an answer.
    await keys.release('u1', 'old');
    expect(await keys.claim('u1', 'old', 'r', TIMES, at('2026-01-02T09:59:00Z'))).toMatchObject({
      outcome: 'replay',
    });
    expect(await keys.claim('u1', 'old', 'other', TIMES, at('2026-01-02T10:00:01Z'))).toEqual({
      outcome: 'claimed',
    });
  });
});
