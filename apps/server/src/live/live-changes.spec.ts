import { strict } from '@kiln/common/testing';
import type { RecordChange } from '@kiln/persistence';
import type { Redis } from 'ioredis';
import { describe, expect, it, vi } from 'vitest';
import { LIVE_CHANNEL, LiveChanges } from './live-changes';

/** A connection that records what each pipeline published. */
function connection() {
  const pipelines: [string, string][][] = [];
  const redis = strict<Redis>('Redis', {
    pipeline: () => {
      const published: [string, string][] = [];
      pipelines.push(published);
      const pipeline = {
        publish: (channel: string, message: string) => {
          published.push([channel, message]);
          return pipeline;
        },
        exec: () => Promise.resolve(published.map(() => [null, 1])),
      };
      return pipeline;
    },
  });
  return { redis, pipelines };
}

const change = (id: string): RecordChange => ({
  kind: 'run',
  id,
  repositoryId: 'repo-1',
  state: 'pending',
});

describe(LiveChanges.name, () => {
  it('publishes the changes of one turn in order, in one pipeline', async () => {
    const { redis, pipelines } = connection();
    const changes = new LiveChanges(redis);

    changes.changed(change('run-1'));
    changes.changed(change('run-2'));
    await vi.waitFor(() => expect(pipelines).toHaveLength(1));
    changes.changed(change('run-3'));
    await vi.waitFor(() => expect(pipelines).toHaveLength(2));

    expect(pipelines).toEqual([
      [
        [LIVE_CHANNEL, JSON.stringify(change('run-1'))],
        [LIVE_CHANNEL, JSON.stringify(change('run-2'))],
      ],
      [[LIVE_CHANNEL, JSON.stringify(change('run-3'))]],
    ]);
  });
});
