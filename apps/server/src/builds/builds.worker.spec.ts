import { strict } from '@kiln/common/testing';
import type { ServerEnv } from '@kiln/config';
import type { TaskInfo } from '@kiln/contracts';
import type { Job } from 'bullmq';
import { describe, expect, it, vi } from 'vitest';
import type { BuildFrameworkService, PlaceOutcome } from './build-framework.service';
import type { BuildOutcomes } from './build-outcomes';
import { BuildsWorker } from './builds.worker';
import { Turns, type Turn } from './turns';

const JOB_1 = '00000000-0000-4000-8000-000000000001';
const JOB_2 = '00000000-0000-4000-8000-000000000002';
const JOB_3 = '00000000-0000-4000-8000-000000000003';

function queued(jobId: string): Job<unknown> {
  return { data: { jobId, attempt: 1 } } as Job<unknown>;
}

function task(jobId: string): TaskInfo {
  return { taskId: `task-${jobId}` } as TaskInfo;
}

/**
 * The worker over a framework that, as the real one does, queues each demand only once every
 * earlier turn has passed; `demands` lists the job ids in the order they joined its queue.
 */
function worker(prepareLaunch: (jobId: string) => Promise<TaskInfo | undefined>) {
  const turns = new Turns();
  const demands: string[] = [];
  const framework = {
    stopping: false,
    takeTurn: () => turns.take(),
    place: vi.fn(
      async (jobId: string, _attempt: number, t: TaskInfo, turn: Turn = turns.take()) => {
        await turn.earlierPassed;
        demands.push(jobId);
        turn.pass();
        return { outcome: 'launched', taskId: t.taskId } satisfies PlaceOutcome;
      },
    ),
  };
  const builds = new BuildsWorker(
    strict<ServerEnv>('ServerEnv', {}),
    strict<BuildFrameworkService>('BuildFrameworkService', framework),
    strict<BuildOutcomes>('BuildOutcomes', { prepareLaunch }),
  );
  return { builds, framework, demands };
}

/** A task the test hands over when it wants: a preparation that takes its time. */
function deferredTask(): { promise: Promise<TaskInfo>; resolve: (task: TaskInfo) => void } {
  let resolve!: (task: TaskInfo) => void;
  const promise = new Promise<TaskInfo>((r) => (resolve = r));
  return { promise, resolve };
}

describe(BuildsWorker.name, () => {
  it('makes job attempts demands in the order it took them up, however long each took to prepare', async () => {
    const first = deferredTask();
    const { builds, framework, demands } = worker((jobId) =>
      jobId === JOB_1 ? first.promise : Promise.resolve(task(jobId)),
    );
    const processed = [builds.process(queued(JOB_1)), builds.process(queued(JOB_2))];
    await vi.waitFor(() => expect(framework.place).toHaveBeenCalledOnce());
    // The second is ready first, and waits for the first.
    expect(demands).toEqual([]);

    first.resolve(task(JOB_1));
    await Promise.all(processed);
    expect(demands).toEqual([JOB_1, JOB_2]);
  });

  it('does not hold up later job attempts with one that has nothing to launch or fails to prepare', async () => {
    const { builds, demands } = worker((jobId) =>
      jobId === JOB_1
        ? Promise.resolve(undefined)
        : jobId === JOB_2
          ? Promise.reject(new Error('the database went away'))
          : Promise.resolve(task(jobId)),
    );
    const [nothing, failed, placed] = [JOB_1, JOB_2, JOB_3].map((jobId) =>
      builds.process(queued(jobId)),
    );
    await expect(nothing).resolves.toBeUndefined();
    await expect(failed).rejects.toThrow('the database went away');
    await expect(placed).resolves.toBeUndefined();
    expect(demands).toEqual([JOB_3]);
  });
});
