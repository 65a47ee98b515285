import type { AgentInfo } from '@kiln/contracts';
import { BadRequestException, ForbiddenException } from '@nestjs/common';
import type { EventStream } from '../streams/event-stream';

export type AgentState = 'ACTIVE' | 'DISCONNECTED' | 'UNREACHABLE';

export interface AgentRecord {
  info: AgentInfo;
  state: AgentState;
  stream?: EventStream;
  lastSeen: number;
  registeredAt: number;
}

/** The agents that ever registered with this master, and the stream each is reached on. */
export class AgentRegistry {
  private readonly agents = new Map<string, AgentRecord>();

  get(agentId: string): AgentRecord | undefined {
    return this.agents.get(agentId);
  }

  values(): IterableIterator<AgentRecord> {
    return this.agents.values();
  }

  /**
   * Registers (or re-registers) an agent on `stream`, ending the stream it had. Returns the record
   * it had before, if any.
   */
  register(info: AgentInfo, stream: EventStream): AgentRecord | undefined {
    const previous = this.agents.get(info.id);
    if (previous?.stream?.isOpen === true) previous.stream.end();
    const now = Date.now();
    this.agents.set(info.id, {
      info,
      state: 'ACTIVE',
      stream,
      lastSeen: now,
      registeredAt: previous?.registeredAt ?? now,
    });
    return previous;
  }

  /**
   * The agent whose call this is, checked against its current subscription: a call on a stream
   * the agent replaced since is refused.
   */
  subscribed(agentId: string | undefined, streamId: string | undefined): AgentRecord {
    const agent = agentId === undefined ? undefined : this.agents.get(agentId);
    if (agent === undefined) throw new ForbiddenException(`agent ${agentId} is not registered`);
    if (streamId === undefined || streamId === '') {
      throw new BadRequestException('the Kiln-Stream-Id header of the subscription is missing');
    }
    if (agent.stream?.id !== streamId) {
      throw new ForbiddenException(
        `stream ${streamId} is not agent ${agent.info.id}'s subscription`,
      );
    }
    return agent;
  }

  /** Agents not yet unreachable that have not been heard from for `timeoutMs`. */
  silentFor(timeoutMs: number, now: number): AgentRecord[] {
    return [...this.agents.values()].filter(
      (agent) => agent.state !== 'UNREACHABLE' && now - agent.lastSeen >= timeoutMs,
    );
  }

  /** Sends `event` to every connected agent. */
  broadcast(event: object): void {
    for (const agent of this.agents.values()) agent.stream?.send(event);
  }
}
