import { readNdjson } from '@kiln/common';
import {
  STREAM_ID_HEADER,
  type AgentEvent,
  type AgentTask,
  type ResourcesMessage,
  type TaskStatus,
} from '@kiln/contracts';
import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';

/**
 * An agent speaking the agent API by hand, so a test controls exactly what reaches the master
 * and when: what a real agent does after a restart that lost an acknowledgement, or what a broken
 * one sends.
 */
export class HandAgent {
  readonly events: AgentEvent[] = [];
  private streamId = '';
  private readonly controller = new AbortController();

  constructor(
    private readonly url: string,
    private readonly token: string,
    readonly id = `hand-${randomUUID()}`,
  ) {}

  async subscribe(options: SubscribeOptions = {}): Promise<void> {
    expect(await this.trySubscribe(options)).toEqual({ status: 200 });
  }

  /** Subscribes if the master lets it; resolves with the answer's status, and why if refused. */
  async trySubscribe(
    options: SubscribeOptions = {},
  ): Promise<{ status: number; message?: string }> {
    const res = await fetch(`${this.url}/api/v1/agent`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        type: 'SUBSCRIBE',
        subscribe: {
          agentInfo: {
            id: this.id,
            hostname: 'hand',
            resources: options.resources ?? { cpus: 1, mem: 256, disk: 0, ports: [] },
            attributes: {},
            containerizers: ['process'],
            version: 'test',
          },
          tasks: options.tasks ?? [],
        },
      }),
      signal: this.controller.signal,
    });
    if (res.status !== 200) {
      return { status: res.status, message: ((await res.json()) as { message: string }).message };
    }
    this.streamId = res.headers.get(STREAM_ID_HEADER) ?? '';
    const body = res.body!;
    void (async () => {
      try {
        for await (const event of readNdjson(body)) this.events.push(event as AgentEvent);
      } catch {
        // Closed at the end of the test.
      }
    })();
    return { status: res.status };
  }

  async update(frameworkId: string, status: TaskStatus): Promise<void> {
    const res = await fetch(`${this.url}/api/v1/agent`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${this.token}`,
        'content-type': 'application/json',
        [STREAM_ID_HEADER]: this.streamId,
      },
      body: JSON.stringify({ type: 'UPDATE', agentId: this.id, update: { frameworkId, status } }),
    });
    expect(res.status).toBe(202);
  }

  acknowledged(uuid: string): boolean {
    return this.events.some((e) => e.type === 'ACKNOWLEDGED' && e.acknowledged?.uuid === uuid);
  }

  close(): void {
    this.controller.abort();
  }
}

export interface SubscribeOptions {
  resources?: ResourcesMessage;
  /** The tasks it says it has, as after a restart. */
  tasks?: AgentTask[];
}
