import { CallSocket } from '@kiln/common';
import type { SchedulerCall, SchedulerEvent } from '@kiln/contracts';
import { vi } from 'vitest';

/**
 * A framework of a test's own on the master's WebSocket, calls in hand: its socket, and every
 * event the socket has brought so far, read in the background.
 */
export class SocketFramework {
  readonly events: SchedulerEvent[] = [];

  private constructor(readonly socket: CallSocket<SchedulerCall>) {
    void (async () => {
      for await (const event of socket.events()) this.events.push(event as SchedulerEvent);
    })().catch(() => undefined);
  }

  static async open(masterUrl: string, token: string): Promise<SocketFramework> {
    return new SocketFramework(
      await CallSocket.open<SchedulerCall>(`${masterUrl}/api/v1/scheduler`, token),
    );
  }

  /** Subscribes as `name` in `roles`; resolves with the framework's id once it is SUBSCRIBED. */
  async subscribe(name: string, roles: string[]): Promise<string> {
    await this.socket.call({ type: 'SUBSCRIBE', subscribe: { frameworkInfo: { name, roles } } });
    // Ten seconds: an allocation cycle on a busy machine can outlast vi.waitFor's one.
    return vi.waitFor(
      () => {
        const subscribed = this.events.find((e) => e.type === 'SUBSCRIBED');
        if (subscribed?.type !== 'SUBSCRIBED') throw new Error('no SUBSCRIBED yet');
        return subscribed.subscribed.frameworkId;
      },
      { timeout: 10_000 },
    );
  }

  close(): void {
    this.socket.close();
  }
}
