import { failedResponseMessage, readNdjson } from '@kiln/common';
import {
  AgentEvent,
  parseMessage,
  STREAM_ID_HEADER,
  type AgentCall,
  type AgentSubscribe,
} from '@kiln/contracts';

export class MasterCallError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'MasterCallError';
  }
}

export interface AgentSubscription {
  streamId: string;
  events: AsyncGenerator<AgentEvent>;
}

/** The agent's side of the agent API: one subscription stream, separate calls for the rest. */
export class MasterClient {
  private readonly endpoint: string;

  constructor(
    masterUrl: string,
    private readonly token: string,
  ) {
    this.endpoint = new URL('/api/v1/agent', masterUrl).toString();
  }

  async subscribe(subscribe: AgentSubscribe, signal: AbortSignal): Promise<AgentSubscription> {
    const call: AgentCall = { type: 'SUBSCRIBE', subscribe };
    const res = await fetch(this.endpoint, {
      method: 'POST',
      headers: this.headers(),
      body: JSON.stringify(call),
      signal,
    });
    if (res.status !== 200 || res.body === null) throw await callError(res);
    const streamId = res.headers.get(STREAM_ID_HEADER);
    if (streamId === null) throw new MasterCallError(res.status, 'the master sent no stream id');
    const body = res.body;
    async function* events(): AsyncGenerator<AgentEvent> {
      for await (const json of readNdjson(body)) yield parseMessage(AgentEvent, json);
    }
    return { streamId, events: events() };
  }

  async call(call: AgentCall, streamId: string, timeoutMs = 10_000): Promise<void> {
    const res = await fetch(this.endpoint, {
      method: 'POST',
      headers: { ...this.headers(), [STREAM_ID_HEADER]: streamId },
      body: JSON.stringify(call),
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (res.status !== 202) throw await callError(res);
    await res.body?.cancel();
  }

  private headers(): Record<string, string> {
    return { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' };
  }
}

async function callError(res: Response): Promise<MasterCallError> {
  return new MasterCallError(res.status, `master ${await failedResponseMessage(res)}`);
}
