import { backoffDelay, errorMessage, sleep } from '@kiln/common';
import type { AgentCall, AgentEvent, AgentInfo, AgentTask } from '@kiln/contracts';
import { Logger } from '@nestjs/common';
import { MasterClient, SocketRefusedError, type MasterSession } from './master-client';

const RECONNECT_BASE_MS = 100;
const RECONNECT_MAX_MS = 5_000;
/** Missing this many master heartbeats in a row means the stream is dead, even if still open. */
const MISSED_MASTER_HEARTBEATS = 3;
/** The master's heartbeat interval until its SUBSCRIBED says otherwise. */
const FIRST_HEARTBEAT_MS = 5_000;

/** What the connection asks of the agent, and tells it. */
export interface MasterConnectionHandlers {
  /** The SUBSCRIBE call, made afresh for each (re-)subscription: what the agent has and runs. */
  subscribeCall(): Promise<{ agentInfo: AgentInfo; tasks: AgentTask[] }>;
  /** An event from the master, SUBSCRIBED and HEARTBEAT included. */
  onEvent(event: AgentEvent): void;
  /** Registered with the master (true), or no longer connected (false). */
  onConnected(connected: boolean): void;
}

/**
 * The agent's connection to the master: subscribes, heartbeats, and subscribes again (with
 * backoff) whenever the stream ends, fails, or the master stops heartbeating. Tasks are not its
 * business: each subscription carries what the agent runs, from {@link MasterConnectionHandlers}.
 */
export class MasterConnection {
  private readonly logger = new Logger(MasterConnection.name);
  private readonly client: MasterClient;
  private readonly stopping = new AbortController();
  private session: MasterSession | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly masterUrl: string,
    clusterToken: string,
    private readonly agentId: string,
    private readonly handlers: MasterConnectionHandlers,
  ) {
    this.client = new MasterClient(masterUrl, clusterToken, (call, error) =>
      this.logger.warn(
        `the master refused a ${call.type} call (${error.status}): ${error.message}`,
      ),
    );
  }

  start(): void {
    this.running ??= this.connectLoop();
  }

  /** Stops subscribing (at once: no call is sent after this) and waits for the loop to end. */
  async stop(): Promise<void> {
    this.stopping.abort();
    clearInterval(this.heartbeatTimer);
    await this.running;
  }

  /** Sends a call on the current subscription; throws when there is none. */
  send(call: AgentCall): void {
    if (this.session === undefined) throw new Error('not connected to the master');
    this.session.send(call);
  }

  private async connectLoop(): Promise<void> {
    let attempt = 0;
    while (!this.stopping.signal.aborted) {
      const connection = new AbortController();
      const abortConnection = (): void => connection.abort();
      this.stopping.signal.addEventListener('abort', abortConnection, { once: true });
      try {
        const subscription = await this.client.subscribe(
          await this.handlers.subscribeCall(),
          connection.signal,
        );
        this.session = subscription;
        let watchdog: NodeJS.Timeout | undefined;
        let heartbeatMs = FIRST_HEARTBEAT_MS;
        const feed = (): void => {
          clearTimeout(watchdog);
          watchdog = setTimeout(() => {
            this.logger.warn('the master stopped sending heartbeats: reconnecting');
            connection.abort();
          }, heartbeatMs * MISSED_MASTER_HEARTBEATS).unref();
        };
        feed();
        for await (const event of subscription.events) {
          if (event.type === 'SUBSCRIBED' && event.subscribed) {
            heartbeatMs = event.subscribed.heartbeatIntervalMs;
            attempt = 0;
            this.onSubscribed(heartbeatMs);
          }
          feed();
          this.handlers.onEvent(event);
        }
        clearTimeout(watchdog);
        if (!this.stopping.signal.aborted) this.logger.warn('the master ended the stream');
      } catch (error) {
        if (!this.stopping.signal.aborted) {
          const unauthorized = error instanceof SocketRefusedError && error.status === 401;
          this.logger.warn(
            `cannot reach the master at ${this.masterUrl}: ${errorMessage(error)}` +
              (unauthorized ? ' (check KILN_CLUSTER_TOKEN)' : ''),
          );
        }
      } finally {
        this.stopping.signal.removeEventListener('abort', abortConnection);
        connection.abort();
      }
      this.onDisconnected();
      attempt += 1;
      await sleep(backoffDelay(attempt, RECONNECT_BASE_MS, RECONNECT_MAX_MS), this.stopping.signal);
    }
  }

  private onSubscribed(heartbeatMs: number): void {
    this.logger.log(`registered with the master at ${this.masterUrl} as ${this.agentId}`);
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = setInterval(() => {
      this.session?.send({ type: 'HEARTBEAT', agentId: this.agentId });
    }, heartbeatMs);
    this.heartbeatTimer.unref();
    this.handlers.onConnected(true);
  }

  private onDisconnected(): void {
    this.session = undefined;
    clearInterval(this.heartbeatTimer);
    this.handlers.onConnected(false);
  }
}
