import { CallSocket, SocketCallError } from '@kiln/common';
import { AgentEvent, parseMessage, type AgentCall, type AgentSubscribe } from '@kiln/contracts';

export { SocketCallError as MasterCallError, SocketRefusedError } from '@kiln/common';

/** One subscription to the master: its events, and the calls that go with it. */
export interface MasterSession {
  events: AsyncGenerator<AgentEvent>;
  /**
   * Sends a call in this tick's frame without waiting for its answer: what must arrive (a status
   * update) is re-sent until its acknowledgement comes back.
   */
  send(call: AgentCall): void;
}

/**
 * The agent's side of the agent API: one WebSocket to the master carrying its calls and the
 * master's events both ways, batched per tick (see `socket.messages.ts` in the contracts).
 */
export class MasterClient {
  private readonly endpoint: string;

  constructor(
    masterUrl: string,
    private readonly token: string,
    /** A call the master refused: nothing to retry, but worth a line in the log. */
    private readonly onRefused: (call: AgentCall, error: SocketCallError) => void,
  ) {
    this.endpoint = new URL('/api/v1/agent', masterUrl).toString();
  }

  async subscribe(subscribe: AgentSubscribe, signal: AbortSignal): Promise<MasterSession> {
    const socket = await CallSocket.open<AgentCall>(this.endpoint, this.token, signal);
    const send = (call: AgentCall): void => {
      socket.call(call).catch((error: unknown) => {
        // A lost connection is the connect loop's business; a refusal is worth reporting.
        if (error instanceof SocketCallError) this.onRefused(call, error);
      });
    };
    send({ type: 'SUBSCRIBE', subscribe });
    async function* events(): AsyncGenerator<AgentEvent> {
      for await (const event of socket.events()) yield parseMessage(AgentEvent, event);
    }
    return { events: events(), send };
  }
}
