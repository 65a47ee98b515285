import {
  CallSocket,
  failedResponseMessage,
  readNdjson,
  SocketCallError,
  SocketRefusedError,
  withTimeout,
} from '@kiln/common';
import {
  MAX_RECONCILE_TASKS,
  SCHEDULER_EVENT_TYPES,
  STREAM_ID_HEADER,
  type FrameworkInfo,
  type SchedulerCall,
  type SchedulerEvent,
  type TaskInfo,
  type TaskStatus,
} from '@kiln/contracts';

export class SchedulerCallError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'SchedulerCallError';
  }
}

export interface SchedulerClientOptions {
  masterUrl: string;
  token: string;
  /**
   * `websocket`: one connection carries the events and the calls, batched per tick (Kiln's own
   * frameworks). `http` (the default): the v1 HTTP API, a stream of events and a POST per call,
   * as an outside framework speaks it.
   */
  transport?: 'http' | 'websocket';
}

/** How long a call may wait for the master's answer. */
const CALL_TIMEOUT_MS = 10_000;

/**
 * A framework's side of the master's scheduler API: one SUBSCRIBE stream of events, and the
 * calls that go with it, over HTTP or a WebSocket (the same calls, events and answers). It does
 * not reconnect by itself: what a framework must do after a lost stream (re-subscribe with its
 * id, then reconcile) is the framework's decision.
 */
export class SchedulerClient {
  private readonly endpoint: string;
  private stream: string | undefined;
  private socket: CallSocket<SchedulerCall> | undefined;
  private framework: string | undefined;

  constructor(private readonly options: SchedulerClientOptions) {
    this.endpoint = new URL('/api/v1/scheduler', options.masterUrl).toString();
  }

  get frameworkId(): string | undefined {
    return this.framework;
  }

  get streamId(): string | undefined {
    return this.stream;
  }

  /**
   * Subscribes (or re-subscribes, when `info.id` is set) and returns the event stream; the
   * framework id is known once this resolves, as SUBSCRIBED is always the first event.
   */
  async subscribe(
    info: FrameworkInfo,
    signal?: AbortSignal,
  ): Promise<AsyncGenerator<SchedulerEvent>> {
    if (this.options.transport === 'websocket') return this.subscribeSocket(info, signal);
    this.socket = undefined;
    const res = await fetch(this.endpoint, {
      method: 'POST',
      headers: this.headers(),
      body: JSON.stringify({ type: 'SUBSCRIBE', subscribe: { frameworkInfo: info } }),
      ...(signal === undefined ? {} : { signal }),
    });
    if (res.status !== 200 || res.body === null) throw await callError(res);
    this.stream = res.headers.get(STREAM_ID_HEADER) ?? undefined;
    const events = parseEvents(readNdjson(res.body));
    const first = await events.next();
    if (first.done === true || first.value.type !== 'SUBSCRIBED') {
      throw new SchedulerCallError(res.status, 'the master did not confirm the subscription');
    }
    this.framework = first.value.subscribed.frameworkId;
    return events;
  }

  async call(call: Omit<SchedulerCall, 'frameworkId'>): Promise<void> {
    if (this.socket !== undefined && this.framework !== undefined) {
      return socketCall(this.socket, { ...call, frameworkId: this.framework });
    }
    if (this.framework === undefined || this.stream === undefined) {
      throw new Error('subscribe before calling the master');
    }
    const res = await fetch(this.endpoint, {
      method: 'POST',
      headers: { ...this.headers(), [STREAM_ID_HEADER]: this.stream },
      body: JSON.stringify({ ...call, frameworkId: this.framework }),
      signal: AbortSignal.timeout(10_000),
    });
    if (res.status !== 202) throw await callError(res);
    await res.body?.cancel();
  }

  accept(offerIds: string[], tasks: TaskInfo[], refuseSeconds?: number): Promise<void> {
    return this.call({
      type: 'ACCEPT',
      accept: {
        offerIds,
        operations: tasks.length === 0 ? [] : [{ type: 'LAUNCH', launch: { taskInfos: tasks } }],
        ...(refuseSeconds === undefined ? {} : { filters: { refuseSeconds } }),
      },
    });
  }

  decline(offerIds: string[], refuseSeconds?: number): Promise<void> {
    return this.call({
      type: 'DECLINE',
      decline: { offerIds, ...(refuseSeconds === undefined ? {} : { filters: { refuseSeconds } }) },
    });
  }

  revive(roles?: string[]): Promise<void> {
    return this.call({ type: 'REVIVE', ...(roles === undefined ? {} : { revive: { roles } }) });
  }

  suppress(roles?: string[]): Promise<void> {
    return this.call({ type: 'SUPPRESS', ...(roles === undefined ? {} : { suppress: { roles } }) });
  }

  kill(taskId: string): Promise<void> {
    return this.call({ type: 'KILL', kill: { taskId } });
  }

  /** Acknowledges an agent's update; master-generated updates (no uuid) need none. */
  async acknowledge(status: TaskStatus): Promise<void> {
    if (status.uuid === undefined || status.agentId === undefined) return;
    await this.call({
      type: 'ACKNOWLEDGE',
      acknowledge: { agentId: status.agentId, taskId: status.taskId, uuid: status.uuid },
    });
  }

  /**
   * Asks for the latest state of `tasks` (of every task, when empty), in calls of at most
   * {@link MAX_RECONCILE_TASKS}, one after another: the master answers a framework's calls in
   * order, and holds only so many unanswered.
   */
  async reconcile(tasks: { taskId: string; agentId?: string }[]): Promise<void> {
    if (tasks.length === 0) return this.call({ type: 'RECONCILE', reconcile: { tasks } });
    for (let start = 0; start < tasks.length; start += MAX_RECONCILE_TASKS) {
      const slice = tasks.slice(start, start + MAX_RECONCILE_TASKS);
      await this.call({ type: 'RECONCILE', reconcile: { tasks: slice } });
    }
  }

  teardown(): Promise<void> {
    return this.call({ type: 'TEARDOWN' });
  }

  private async subscribeSocket(
    info: FrameworkInfo,
    signal: AbortSignal | undefined,
  ): Promise<AsyncGenerator<SchedulerEvent>> {
    let socket: CallSocket<SchedulerCall>;
    try {
      socket = await CallSocket.open<SchedulerCall>(this.endpoint, this.options.token, signal);
    } catch (error) {
      if (error instanceof SocketRefusedError) {
        throw new SchedulerCallError(error.status, `master ${error.message}`);
      }
      throw error;
    }
    const events = parseEvents(socket.events());
    try {
      // SUBSCRIBED comes in the same frame as the call's answer: once that is in, so is it.
      await socketCall(socket, { type: 'SUBSCRIBE', subscribe: { frameworkInfo: info } });
    } catch (error) {
      socket.close();
      throw error;
    }
    const first = await events.next();
    if (first.done === true || first.value.type !== 'SUBSCRIBED') {
      throw new SchedulerCallError(200, 'the master did not confirm the subscription');
    }
    this.socket = socket;
    this.stream = undefined;
    this.framework = first.value.subscribed.frameworkId;
    return events;
  }

  private headers(): Record<string, string> {
    return { authorization: `Bearer ${this.options.token}`, 'content-type': 'application/json' };
  }
}

async function* parseEvents(lines: AsyncGenerator<unknown>): AsyncGenerator<SchedulerEvent> {
  for await (const line of lines) {
    const type = (line as { type?: unknown } | null)?.type;
    if (!SCHEDULER_EVENT_TYPES.includes(type as SchedulerEvent['type'])) {
      throw new Error(`unexpected event from the master: ${JSON.stringify(line).slice(0, 200)}`);
    }
    yield line as SchedulerEvent;
  }
}

/** A call on the socket, answered in time; a refusal as the HTTP API would have given it. */
async function socketCall(socket: CallSocket<SchedulerCall>, call: SchedulerCall): Promise<void> {
  try {
    await withTimeout(socket.call(call), CALL_TIMEOUT_MS);
  } catch (error) {
    if (!(error instanceof SocketCallError)) throw error;
    throw new SchedulerCallError(error.status, `master answered ${error.status}: ${error.message}`);
  }
}

async function callError(res: Response): Promise<SchedulerCallError> {
  return new SchedulerCallError(res.status, `master ${await failedResponseMessage(res)}`);
}
