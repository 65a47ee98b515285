import { strict } from '@kiln/common/testing';
import type { RecordChange } from '@kiln/persistence';
import type { Redis } from 'ioredis';
import { describe, expect, it, vi } from 'vitest';
import { LIVE_CHANNEL, LiveChanges, parseRecordChanges } from './live-changes';

/** A connection that records what was published. */
function connection() {
  const published: [string, string][] = [];
  const redis = strict<Redis>('Redis', {
    publish: (channel: string, message: string) => {
      published.push([channel, message]);
      return Promise.resolve(1);
    },
  });
  return { redis, published };
}

const change = (id: string): RecordChange => ({
  kind: 'run',
  id,
  repositoryId: 'repo-1',
  state: 'pending',
});

describe(LiveChanges.name, () => {
  it('publishes the changes of one turn in order, in one message', async () => {
    const { redis, published } = connection();
    const changes = new LiveChanges(redis);

    changes.changed(change('run-1'));
    changes.changed(change('run-2'));
    await vi.waitFor(() => expect(published).toHaveLength(1));
    changes.changed(change('run-3'));
    await vi.waitFor(() => expect(published).toHaveLength(2));

    expect(published).toEqual([
      [LIVE_CHANNEL, JSON.stringify([change('run-1'), change('run-2')])],
      [LIVE_CHANNEL, JSON.stringify([change('run-3')])],
    ]);
    expect(published.map(([, message]) => parseRecordChanges(message))).toEqual([
      [change('run-1'), change('run-2')],
      [change('run-3')],
    ]);
  });
});

describe(parseRecordChanges.name, () => {
  it('reads one change, as a replica of an earlier version publishes it', () => {
    expect(parseRecordChanges(JSON.stringify(change('run-1')))).toEqual([change('run-1')]);
  });

  it('refuses a message of which one change is malformed', () => {
    const malformed = { kind: 'run', id: 'run-2', repositoryId: 7 };
    expect(parseRecordChanges(JSON.stringify([change('run-1'), malformed]))).toBeUndefined();
    expect(parseRecordChanges('not json')).toBeUndefined();
    expect(parseRecordChanges(JSON.stringify([change('run-1'), null]))).toBeUndefined();
  });
});
