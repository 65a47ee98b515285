import { strict } from '@kiln/common/testing';
import type { ServerEnv } from '@kiln/config';
import type {
  Offer,
  ReconcileTask,
  SchedulerEvent,
  TaskInfo,
  TaskState,
  TaskStatus,
} from '@kiln/contracts';
import type { SettingsRepository } from '@kiln/persistence';
import type { SchedulerClient } from '@kiln/scheduler';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BuildFrameworkService } from './build-framework.service';
import type { BuildOutcomes, Recorded } from './build-outcomes';
import type { AgentSummary, ClusterStateClient } from './cluster-state.client';

/** The master's event stream, fed by the test; it ends when the test ends it. */
class EventFeed {
  private readonly queued: SchedulerEvent[] = [];
  private wake: (() => void) | undefined;
  private ended = false;

  push(event: SchedulerEvent): void {
    this.queued.push(event);
    this.wake?.();
  }

  end(): void {
    this.ended = true;
    this.wake?.();
  }

  async *events(): AsyncGenerator<SchedulerEvent> {
    for (;;) {
      const next = this.queued.shift();
      if (next !== undefined) {
        yield next;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}

/** The transaction of a batch of recordings, without a database: commits once all are done. */
async function recordTogether(
  recordings: ReadonlyArray<() => Promise<unknown>>,
): Promise<Recorded<unknown>[]> {
  const values = await Promise.all(recordings.map((recording) => recording()));
  return values.map((value) => ({ value, finish: () => Promise.resolve() }));
}

/** A promise the test settles when it wants: a database write that takes its time. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const AGENT: AgentSummary = {
  id: 'agent-1',
  hostname: 'a1',
  state: 'ACTIVE',
  containerizers: ['process'],
  total: { cpus: 4, mem: 4096 },
  free: { cpus: 4, mem: 4096 },
};

function task(taskId: string, resources = { cpus: 1, mem: 128 }): TaskInfo {
  return {
    taskId,
    name: taskId,
    resources,
    command: { shell: true, value: 'true' },
  } as TaskInfo;
}

function offer(id: string): Offer {
  return {
    id,
    frameworkId: 'fw-1',
    agentId: 'agent-1',
    hostname: 'a1',
    role: 'ci',
    resources: { cpus: 4, mem: 4096, disk: 0, ports: [] },
    attributes: {},
    containerizers: ['process'],
  };
}

function update(taskId: string, state: TaskState, extra: Partial<TaskStatus> = {}): SchedulerEvent {
  return {
    type: 'UPDATE',
    update: {
      status: {
        taskId,
        state,
        source: 'MASTER',
        agentId: 'agent-1',
        timestamp: Date.now() / 1000,
        ...extra,
      },
    },
  };
}

describe(BuildFrameworkService.name, () => {
  let feed: EventFeed;
  let client: {
    frameworkId: string;
    subscribe: () => Promise<AsyncGenerator<SchedulerEvent>>;
    accept: ReturnType<typeof vi.fn>;
    decline: ReturnType<typeof vi.fn>;
    revive: ReturnType<typeof vi.fn>;
    suppress: ReturnType<typeof vi.fn>;
    kill: ReturnType<typeof vi.fn>;
    acknowledge: ReturnType<typeof vi.fn>;
    reconcile: ReturnType<typeof vi.fn>;
  };
  let outcomes: {
    recordTogether: ReturnType<
      typeof vi.fn<
        (recordings: ReadonlyArray<() => Promise<unknown>>) => Promise<Recorded<unknown>[]>
      >
    >;
    activeTasks: ReturnType<typeof vi.fn<() => Promise<ReconcileTask[]>>>;
    waiting: ReturnType<typeof vi.fn>;
    claimLaunch: ReturnType<typeof vi.fn>;
    taskStarted: ReturnType<typeof vi.fn<(status: TaskStatus) => Promise<boolean>>>;
    taskEnded: ReturnType<typeof vi.fn<(status: TaskStatus) => Promise<void>>>;
    taskUnreachable: ReturnType<typeof vi.fn<(s: TaskStatus, at: Date) => Promise<boolean>>>;
    taskGivenUp: ReturnType<typeof vi.fn<(taskId: string, message: string) => Promise<void>>>;
    taskUnknown: ReturnType<typeof vi.fn>;
    releaseLaunch: ReturnType<typeof vi.fn>;
  };
  let service: BuildFrameworkService | undefined;

  beforeEach(() => {
    feed = new EventFeed();
    client = {
      frameworkId: 'fw-1',
      subscribe: () => Promise.resolve(feed.events()),
      accept: vi.fn().mockResolvedValue(undefined),
      decline: vi.fn().mockResolvedValue(undefined),
      revive: vi.fn().mockResolvedValue(undefined),
      suppress: vi.fn().mockResolvedValue(undefined),
      kill: vi.fn().mockResolvedValue(undefined),
      acknowledge: vi.fn().mockResolvedValue(undefined),
      reconcile: vi.fn().mockResolvedValue(undefined),
    };
    outcomes = {
      recordTogether: vi
        .fn<(recordings: ReadonlyArray<() => Promise<unknown>>) => Promise<Recorded<unknown>[]>>()
        .mockImplementation(recordTogether),
      activeTasks: vi.fn<() => Promise<ReconcileTask[]>>().mockResolvedValue([]),
      waiting: vi.fn().mockResolvedValue(undefined),
      claimLaunch: vi.fn().mockResolvedValue(true),
      taskStarted: vi.fn<(status: TaskStatus) => Promise<boolean>>().mockResolvedValue(true),
      taskEnded: vi.fn<(status: TaskStatus) => Promise<void>>().mockResolvedValue(undefined),
      taskUnreachable: vi
        .fn<(s: TaskStatus, at: Date) => Promise<boolean>>()
        .mockResolvedValue(true),
      taskGivenUp: vi
        .fn<(taskId: string, message: string) => Promise<void>>()
        .mockResolvedValue(undefined),
      taskUnknown: vi.fn().mockResolvedValue(undefined),
      releaseLaunch: vi.fn().mockResolvedValue(undefined),
    };
  });

  afterEach(async () => {
    vi.useRealTimers();
    service?.beforeApplicationShutdown();
    feed.end();
    await service?.onApplicationShutdown();
    service = undefined;
  });

  function start(partitionTimeoutMs = 60_000): BuildFrameworkService {
    const env = {
      KILN_MASTER_URL: 'http://master.test',
      KILN_CLUSTER_TOKEN: 'token-0123456789abcdef',
      KILN_BUILD_ROLE: 'ci',
      KILN_BUILD_PARTITION_TIMEOUT_MS: partitionTimeoutMs,
    } as ServerEnv;
    service = new BuildFrameworkService(
      env,
      strict<BuildOutcomes>('BuildOutcomes', outcomes),
      strict<SettingsRepository>('SettingsRepository', {
        get: () => Promise.resolve('fw-1'),
        set: () => Promise.resolve(),
      }),
      strict<SchedulerClient>('SchedulerClient', client),
      strict<ClusterStateClient>('ClusterStateClient', { agents: () => Promise.resolve([AGENT]) }),
    );
    service.onApplicationBootstrap();
    return service;
  }

  it('uses an offer while the answers to its reconciliation are still being recorded', async () => {
    outcomes.activeTasks.mockResolvedValue([{ taskId: 'task-old', agentId: 'agent-1' }]);
    const recording = deferred();
    outcomes.taskEnded.mockReturnValue(recording.promise);
    const framework = start();
    await vi.waitFor(() =>
      expect(client.reconcile).toHaveBeenCalledWith([{ taskId: 'task-old', agentId: 'agent-1' }]),
    );

    // The answer to the reconciliation comes first and takes long to record...
    feed.push(update('task-old', 'TASK_FINISHED', { reason: 'RECONCILIATION' }));
    await vi.waitFor(() => expect(outcomes.taskEnded).toHaveBeenCalledOnce());
    const placed = framework.place('job-1', 1, task('task-new'));
    await vi.waitFor(() => expect(client.revive).toHaveBeenCalled());
    // ...and the offer queued behind it is used all the same.
    feed.push({ type: 'OFFERS', offers: { offers: [offer('offer-1')] } });

    await expect(placed).resolves.toEqual({
      outcome: 'launched',
      taskId: 'task-new',
    });
    expect(client.accept).toHaveBeenCalledWith(['offer-1'], [task('task-new')], 5);
    expect(client.acknowledge).not.toHaveBeenCalled();

    recording.resolve();
    await vi.waitFor(() => expect(client.acknowledge).toHaveBeenCalledOnce());
  });

  it('revives on every new demand, not only when demand goes from none to some', async () => {
    const framework = start();
    void framework.place('job-1', 1, task('task-1'));
    await vi.waitFor(() => expect(client.revive).toHaveBeenCalledTimes(1));
    // A declined agent is filtered for a while: new demand (a job that needs Docker, say) must
    // clear those filters, or it waits behind them with capacity idle.
    void framework.place('job-2', 1, task('task-2'));
    await vi.waitFor(() => expect(client.revive).toHaveBeenCalledTimes(2));
  });

  it('sends one REVIVE at a time, the demand that came meanwhile coalesced into the next', async () => {
    const reviving = deferred();
    client.revive.mockImplementationOnce(() => reviving.promise);
    const framework = start();
    void framework.place('job-1', 1, task('task-1'));
    await vi.waitFor(() => expect(client.revive).toHaveBeenCalledTimes(1));
    for (const n of [2, 3, 4]) void framework.place(`job-${n}`, 1, task(`task-${n}`));
    await vi.waitFor(() => expect(outcomes.waiting).toHaveBeenCalledTimes(4));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(client.revive).toHaveBeenCalledTimes(1);
    reviving.resolve();
    await vi.waitFor(() => expect(client.revive).toHaveBeenCalledTimes(2));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(client.revive).toHaveBeenCalledTimes(2);
  });

  it('answers several offers at once, not one after the other', async () => {
    const framework = start();
    const first = deferred();
    client.accept.mockImplementationOnce(() => first.promise);
    const placed = [
      framework.place('job-1', 1, {
        ...task('task-1'),
        resources: { cpus: 4, mem: 128 },
      } as TaskInfo),
      framework.place('job-2', 1, {
        ...task('task-2'),
        resources: { cpus: 4, mem: 128 },
      } as TaskInfo),
    ];
    await vi.waitFor(() => expect(client.revive).toHaveBeenCalled());
    feed.push({ type: 'OFFERS', offers: { offers: [offer('offer-1'), offer('offer-2')] } });
    // The second ACCEPT goes out while the first is still unanswered.
    await vi.waitFor(() => expect(client.accept).toHaveBeenCalledTimes(2));
    first.resolve();
    await expect(Promise.all(placed)).resolves.toEqual([
      { outcome: 'launched', taskId: 'task-1' },
      { outcome: 'launched', taskId: 'task-2' },
    ]);
  });

  it('serves the demand placed first, however long the one placed after took to get ready', async () => {
    const framework = start();
    // The offer (4096 MB) takes one of the two, not both.
    const hogTask = task('task-hog', { cpus: 1, mem: 3072 });
    const squeezeTask = task('task-squeeze', { cpus: 1, mem: 2048 });
    const hogWaits = deferred();
    outcomes.waiting.mockImplementationOnce(() => hogWaits.promise);
    const hog = framework.place('job-hog', 1, hogTask);
    void framework.place('job-squeeze', 1, squeezeTask);
    await vi.waitFor(() => expect(outcomes.waiting).toHaveBeenCalledTimes(2));

    // Hog's message is still being written when an offer comes: squeeze, ready first, waits.
    feed.push({ type: 'OFFERS', offers: { offers: [offer('offer-1')] } });
    await vi.waitFor(() =>
      expect(client.accept.mock.calls.length + client.decline.mock.calls.length).toBe(1),
    );
    expect(client.accept).not.toHaveBeenCalled();

    hogWaits.resolve();
    await vi.waitFor(() => expect(client.revive).toHaveBeenCalled());
    feed.push({ type: 'OFFERS', offers: { offers: [offer('offer-2')] } });
    await expect(hog).resolves.toEqual({ outcome: 'launched', taskId: 'task-hog' });
    expect(client.accept).toHaveBeenCalledExactlyOnceWith(['offer-2'], [hogTask], 5);
  });

  it('keeps a launch whose ACCEPT got no answer, and reconciles it instead of launching it twice', async () => {
    const framework = start();
    client.accept.mockRejectedValueOnce(new TypeError('fetch failed'));
    const placed = framework.place('job-1', 1, task('task-1'));
    await vi.waitFor(() => expect(client.revive).toHaveBeenCalled());
    feed.push({ type: 'OFFERS', offers: { offers: [offer('offer-1')] } });
    // The master may have launched it before it went: the claim stays, and the cluster is asked.
    await expect(placed).resolves.toEqual({ outcome: 'launched', taskId: 'task-1' });
    expect(outcomes.releaseLaunch).not.toHaveBeenCalled();
    expect(outcomes.claimLaunch).toHaveBeenCalledWith('job-1', 1, 'task-1', 'agent-1');
    await vi.waitFor(() =>
      expect(client.reconcile).toHaveBeenCalledWith([{ taskId: 'task-1', agentId: 'agent-1' }]),
    );
    // A later offer launches nothing again.
    feed.push({ type: 'OFFERS', offers: { offers: [offer('offer-2')] } });
    await vi.waitFor(() => expect(client.decline).toHaveBeenCalled());
    expect(client.accept).toHaveBeenCalledOnce();
  });

  it('offers a launch the master refused to the next offer', async () => {
    const framework = start();
    client.accept.mockRejectedValueOnce(
      Object.assign(new Error('master 400 unknown offer'), { status: 400 }),
    );
    const placed = framework.place('job-1', 1, task('task-1'));
    await vi.waitFor(() => expect(client.revive).toHaveBeenCalled());
    feed.push({ type: 'OFFERS', offers: { offers: [offer('offer-1')] } });
    await vi.waitFor(() => expect(outcomes.releaseLaunch).toHaveBeenCalledWith('job-1', 'task-1'));
    feed.push({ type: 'OFFERS', offers: { offers: [offer('offer-2')] } });
    await expect(placed).resolves.toEqual({ outcome: 'launched', taskId: 'task-1' });
    expect(client.accept).toHaveBeenCalledTimes(2);
  });

  it("records one task's updates in order while other tasks' go ahead", async () => {
    const starting = deferred();
    outcomes.taskStarted.mockImplementation((status) =>
      status.taskId === 'task-1' ? starting.promise.then(() => true) : Promise.resolve(true),
    );
    start();

    feed.push(update('task-1', 'TASK_RUNNING'));
    feed.push(update('task-1', 'TASK_FINISHED'));
    feed.push(update('task-2', 'TASK_RUNNING'));
    await vi.waitFor(() =>
      expect(outcomes.taskStarted.mock.calls.map(([s]) => s.taskId)).toEqual(['task-1', 'task-2']),
    );
    expect(outcomes.taskEnded).not.toHaveBeenCalled();

    starting.resolve();
    await vi.waitFor(() => expect(outcomes.taskEnded).toHaveBeenCalledOnce());
    expect(outcomes.taskEnded.mock.calls[0]?.[0]).toMatchObject({
      taskId: 'task-1',
      state: 'TASK_FINISHED',
    });
  });

  it('records the updates that arrive together in one transaction', async () => {
    start();
    feed.push(update('task-1', 'TASK_RUNNING'));
    feed.push(update('task-2', 'TASK_RUNNING'));
    feed.push(update('task-3', 'TASK_FINISHED'));
    await vi.waitFor(() => expect(client.acknowledge).toHaveBeenCalledTimes(3));
    expect(outcomes.recordTogether).toHaveBeenCalledOnce();
    expect(outcomes.recordTogether.mock.calls[0]?.[0]).toHaveLength(3);
  });

  it('acknowledges an update only once its transaction has committed and its run moved on', async () => {
    const commit = deferred();
    const finished = deferred();
    outcomes.recordTogether.mockImplementationOnce(async (recordings) => {
      const written = await recordTogether(recordings);
      await commit.promise;
      return written.map((w) => ({ ...w, finish: () => finished.promise }));
    });
    start();
    feed.push(update('task-1', 'TASK_FINISHED'));
    await vi.waitFor(() => expect(outcomes.taskEnded).toHaveBeenCalledOnce());
    // Written, not committed: a crash now must leave the agent resending it.
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(client.acknowledge).not.toHaveBeenCalled();
    commit.resolve();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(client.acknowledge).not.toHaveBeenCalled();
    finished.resolve();
    await vi.waitFor(() => expect(client.acknowledge).toHaveBeenCalledOnce());
  });

  it('records each update of a failed transaction alone, and leaves unacknowledged what fails', async () => {
    outcomes.recordTogether.mockRejectedValueOnce(new Error('deadlock detected'));
    outcomes.taskStarted.mockImplementation((status) =>
      status.taskId === 'task-2'
        ? Promise.reject(new Error('the database went away'))
        : Promise.resolve(false),
    );
    start();
    feed.push(update('task-1', 'TASK_RUNNING'));
    feed.push(update('task-2', 'TASK_RUNNING'));
    await vi.waitFor(() => expect(outcomes.recordTogether).toHaveBeenCalledTimes(3));
    await vi.waitFor(() => expect(client.acknowledge).toHaveBeenCalledOnce());
    expect(client.acknowledge.mock.calls[0]?.[0]).toMatchObject({ taskId: 'task-1' });
    // What follows a recording (here: its job has ended, kill the task) waits for its commit.
    expect(client.kill).toHaveBeenCalledExactlyOnceWith('task-1');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(client.acknowledge).toHaveBeenCalledOnce();
  });

  it("keeps every task's updates in order while tasks' recordings overlap", async () => {
    const recorded: string[] = [];
    const slowly = async (status: TaskStatus): Promise<void> => {
      // Each recording takes its own time, so tasks overtake each other.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 5));
      recorded.push(`${status.taskId}:${status.message}`);
    };
    outcomes.taskStarted.mockImplementation(async (status) => {
      await slowly(status);
      return true;
    });
    outcomes.taskEnded.mockImplementation(slowly);
    start();
    const tasks = Array.from({ length: 8 }, (_, i) => `task-${i}`);
    const sent = new Map(tasks.map((taskId) => [taskId, [] as string[]]));
    for (let step = 0; step < 6; step++) {
      for (const taskId of tasks) {
        if (Math.random() < 0.3) continue;
        const seen = sent.get(taskId) ?? [];
        const state = seen.length === 4 ? 'TASK_FINISHED' : 'TASK_RUNNING';
        if (seen.length > 4) continue;
        feed.push(update(taskId, state, { message: String(seen.length) }));
        seen.push(String(seen.length));
      }
      // Some updates come in a later read of the stream.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 4));
    }
    const total = [...sent.values()].reduce((n, seen) => n + seen.length, 0);
    await vi.waitFor(() => expect(client.acknowledge).toHaveBeenCalledTimes(total), {
      timeout: 5_000,
    });
    for (const [taskId, seen] of sent) {
      const order = (events: string[]) =>
        events.filter((e) => e.startsWith(`${taskId}:`)).map((e) => e.split(':')[1]);
      expect(order(recorded)).toEqual(seen);
      const acked = client.acknowledge.mock.calls.map(
        ([status]) => `${(status as TaskStatus).taskId}:${(status as TaskStatus).message}`,
      );
      expect(order(acked)).toEqual(seen);
    }
  });

  it('waits for a task whose agent is unreachable, and its return ends the wait', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    start(60_000);
    const lostAt = Date.now() / 1000 - 10;

    feed.push(update('task-1', 'TASK_UNREACHABLE', { unreachableTime: lostAt }));
    await vi.waitFor(() => expect(outcomes.taskUnreachable).toHaveBeenCalledOnce());
    // Given up a partition timeout after the master lost the agent, not after we heard of it.
    expect(outcomes.taskUnreachable.mock.calls[0]?.[1]).toEqual(new Date(lostAt * 1000 + 60_000));
    expect(outcomes.taskEnded).not.toHaveBeenCalled();

    feed.push(update('task-1', 'TASK_RUNNING'));
    await vi.waitFor(() => expect(outcomes.taskStarted).toHaveBeenCalledOnce());
    await vi.advanceTimersByTimeAsync(120_000);
    expect(outcomes.taskGivenUp).not.toHaveBeenCalled();
    expect(client.kill).not.toHaveBeenCalled();
  });

  it('gives a task up as lost after the partition timeout, and kills it should it return', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    start(60_000);

    feed.push(update('task-1', 'TASK_UNREACHABLE', { unreachableTime: Date.now() / 1000 }));
    await vi.waitFor(() => expect(outcomes.taskUnreachable).toHaveBeenCalledOnce());
    await vi.advanceTimersByTimeAsync(59_000);
    expect(outcomes.taskGivenUp).not.toHaveBeenCalled();

    await vi.advanceTimersByTimeAsync(1_000);
    await vi.waitFor(() => expect(outcomes.taskGivenUp).toHaveBeenCalledOnce());
    expect(outcomes.taskGivenUp.mock.calls[0]).toEqual([
      'task-1',
      expect.stringMatching(/agent agent-1 unreachable for more than 60 s/) as string,
    ]);
    await vi.waitFor(() => expect(client.kill).toHaveBeenCalledWith('task-1'));
    expect(outcomes.taskEnded).not.toHaveBeenCalled();

    // The agent returns with the task still running: its job moved on, so it is killed again.
    outcomes.taskStarted.mockResolvedValue(false);
    feed.push(update('task-1', 'TASK_RUNNING'));
    await vi.waitFor(() => expect(client.kill).toHaveBeenCalledTimes(2));
  });
});
