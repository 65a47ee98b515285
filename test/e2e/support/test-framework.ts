import {
  contains,
  resources,
  subtract,
  type FrameworkInfo,
  type Offer,
  type SchedulerEvent,
  type TaskInfo,
  type TaskStatus,
} from '@kiln/contracts';
import { SchedulerClient } from '@kiln/scheduler';

/**
 * A small framework for tests: it launches the tasks it is given on the offers it gets (first
 * fit), declines the rest, acknowledges every update, and remembers every event.
 */
export class TestFramework {
  readonly events: SchedulerEvent[] = [];
  readonly updates: TaskStatus[] = [];
  /** When each update arrived (ms since the epoch), in arrival order, for latency figures. */
  readonly arrivals: { taskId: string; state: TaskStatus['state']; at: number }[] = [];
  readonly launched: { taskId: string; agentId: string; at: number }[] = [];
  private readonly queue: TaskInfo[] = [];
  private readonly controller = new AbortController();
  private reading: Promise<void> | undefined;
  /** Decline filter for offers that fit nothing. */
  refuseSeconds = 1;
  /** Launch only on agents that advertise the task's containerizer (off: let the agent judge). */
  matchContainerizers = true;
  /**
   * At most this many tasks per offer; the rest of the offer goes back with no filter, so the
   * allocator decides again who gets it (as a framework placing one task at a time would).
   */
  maxTasksPerOffer = Number.POSITIVE_INFINITY;
  /** Acknowledge every update as it comes (off: let the agent keep them, to test re-sending). */
  acknowledging = true;

  private constructor(
    readonly client: SchedulerClient,
    private readonly info: FrameworkInfo,
    /** Keep offers that fit nothing instead of declining them (to test calls on them). */
    private readonly holdOffers: boolean,
  ) {}

  static async start(
    masterUrl: string,
    token: string,
    info: FrameworkInfo,
    options: { holdOffers?: boolean; transport?: 'http' | 'websocket' } = {},
  ): Promise<TestFramework> {
    const framework = new TestFramework(
      new SchedulerClient({ masterUrl, token, transport: options.transport ?? 'http' }),
      info,
      options.holdOffers ?? false,
    );
    await framework.connect();
    return framework;
  }

  get id(): string {
    const id = this.client.frameworkId;
    if (id === undefined) throw new Error('not subscribed');
    return id;
  }

  /** Subscribes again with the same framework id (after a master restart, say). */
  async connect(): Promise<void> {
    const events = await this.client.subscribe(
      {
        ...this.info,
        ...(this.client.frameworkId === undefined ? {} : { id: this.client.frameworkId }),
      },
      this.controller.signal,
    );
    this.reading = this.read(events);
  }

  /** Queues tasks to launch on the next offers that fit them. */
  launch(...tasks: TaskInfo[]): void {
    const wasIdle = this.queue.length === 0;
    this.queue.push(...tasks);
    // New demand after none: clear the decline filters, as a real framework would.
    if (wasIdle) this.client.revive().catch(() => undefined);
  }

  get pending(): number {
    return this.queue.length;
  }

  statusesOf(taskId: string): TaskStatus[] {
    return this.updates.filter((u) => u.taskId === taskId);
  }

  async waitFor<T>(
    find: () => T | undefined | Promise<T | undefined>,
    timeoutMs = 20_000,
    what = 'condition',
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = await find();
      if (found !== undefined && found !== false) return found;
      if (Date.now() > deadline) {
        throw new Error(
          `${what} not met within ${timeoutMs} ms; updates: ${JSON.stringify(this.updates.map((u) => [u.taskId, u.state, u.reason]))}`,
        );
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  waitForState(
    taskId: string,
    state: TaskStatus['state'],
    timeoutMs?: number,
  ): Promise<TaskStatus> {
    return this.waitFor(
      () => this.updates.find((u) => u.taskId === taskId && u.state === state),
      timeoutMs,
      `${taskId} reaching ${state}`,
    );
  }

  async close(): Promise<void> {
    this.controller.abort();
    await this.reading?.catch(() => undefined);
  }

  private async read(events: AsyncGenerator<SchedulerEvent>): Promise<void> {
    try {
      for await (const event of events) {
        this.events.push(event);
        // Answered without holding up the stream: a real framework keeps reading while it calls.
        if (event.type === 'OFFERS') void this.onOffers(event.offers.offers);
        if (event.type === 'UPDATE') {
          const { status } = event.update;
          this.updates.push(status);
          this.arrivals.push({ taskId: status.taskId, state: status.state, at: Date.now() });
          if (this.acknowledging) this.client.acknowledge(status).catch(() => undefined);
        }
      }
    } catch {
      // The stream ended (master gone, test over): connect() starts a new one.
    }
  }

  private async onOffers(offers: Offer[]): Promise<void> {
    // Tasks are matched to all offers at once, then the answers go out together.
    const answers = offers.map((offer) => ({ offer, tasks: this.take(offer) }));
    await Promise.all(
      answers.map(async ({ offer, tasks }) => {
        try {
          if (tasks.length > 0) {
            const at = Date.now();
            for (const task of tasks) {
              this.launched.push({ taskId: task.taskId, agentId: offer.agentId, at });
            }
            await this.client.accept([offer.id], tasks, 0);
          } else if (!this.holdOffers) {
            await this.client.decline([offer.id], this.refuseSeconds);
          }
        } catch {
          this.queue.unshift(...tasks);
        }
      }),
    );
  }

  /** First fit: the queued tasks `offer` can hold, removed from the queue. */
  private take(offer: Offer): TaskInfo[] {
    let left = resources(offer.resources);
    const taken: TaskInfo[] = [];
    const kept: TaskInfo[] = [];
    for (const task of this.queue) {
      const type = task.container?.type;
      const fits =
        taken.length < this.maxTasksPerOffer &&
        contains(left, resources(task.resources)) &&
        (type === undefined || !this.matchContainerizers || offer.containerizers.includes(type));
      if (fits) {
        taken.push(task);
        left = subtract(left, resources(task.resources));
      } else {
        kept.push(task);
      }
    }
    this.queue.splice(0, this.queue.length, ...kept);
    return taken;
  }
}

/** A task running `script` with small resources. */
export function shellTask(taskId: string, script: string, extra: Partial<TaskInfo> = {}): TaskInfo {
  return {
    taskId,
    name: taskId,
    command: { shell: true, value: script },
    resources: { cpus: 0.1, mem: 32, disk: 0, ports: [] },
    ...extra,
  };
}
