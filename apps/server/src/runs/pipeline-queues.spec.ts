import { strict } from '@kiln/common/testing';
import { describe, expect, it } from 'vitest';
import { PipelineQueues } from './pipeline-queues';

interface Bulk {
  name: string;
  data: { runId: string };
  opts: { jobId: string };
}

/** The adapter over a trigger queue that records each `addBulk`, answering with `answer`. */
function queues(answer: () => Promise<unknown> = () => Promise.resolve([])) {
  const bulks: Bulk[][] = [];
  const triggers = { addBulk: (jobs: Bulk[]) => (bulks.push(jobs), answer()) };
  const none = (name: string) => strict<never>(name, {});
  const adapter = new PipelineQueues(
    strict('triggers', triggers),
    none('builds'),
    none('statuses'),
    none('schedules'),
    none('promotions'),
    none('RedisHealth'),
  );
  return { adapter, bulks };
}

describe(PipelineQueues.name, () => {
  it('adds the triggers asked for in one turn in one bulk, each under its run id', async () => {
    const { adapter, bulks } = queues();

    await Promise.all(['run-1', 'run-2', 'run-3'].map((runId) => adapter.trigger(runId)));
    await adapter.trigger('run-4');

    expect(bulks.map((bulk) => bulk.map((job) => job.opts.jobId))).toEqual([
      ['run-1', 'run-2', 'run-3'],
      ['run-4'],
    ]);
    expect(bulks[0]?.[0]).toMatchObject({ name: 'trigger', data: { runId: 'run-1' } });
  });

  it('fails every trigger of a bulk that Redis refused', async () => {
    const { adapter } = queues(() => Promise.reject(new Error('Connection is closed.')));

    const results = await Promise.allSettled([adapter.trigger('run-1'), adapter.trigger('run-2')]);

    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });
});
