import type { SchedulerCall } from '@kiln/contracts';
import { HttpException } from '@nestjs/common';
import { EventEmitter } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import type { MasterService } from '../cluster/master.service';
import { SchedulerController } from './scheduler.controller';

/** As much of an Express response as an event stream uses. */
class FakeResponse extends EventEmitter {
  headersSent = false;
  destroyed = false;
  readonly writableLength = 0;
  status(): this {
    return this;
  }
  setHeader(): void {}
  flushHeaders(): void {
    this.headersSent = true;
  }
  write(): boolean {
    return true;
  }
  end(): void {}
  destroy(): void {
    this.destroyed = true;
    this.emit('close');
  }
}

function subscribe(frameworkInfo: { id?: string; name: string; roles: string[] }): SchedulerCall {
  return { type: 'SUBSCRIBE', subscribe: { frameworkInfo } };
}

describe(SchedulerController.name, () => {
  it('cuts the stream of a subscription that fails, and disconnects only the framework it named', () => {
    const master = {
      checkSubscription: vi.fn(),
      subscribeFramework: vi.fn(() => {
        throw new Error('the allocator refused');
      }),
      frameworkDisconnected: vi.fn(),
    };
    const controller = new SchedulerController(master as unknown as MasterService);

    const fresh = new FakeResponse();
    expect(() =>
      controller.call(subscribe({ name: 'new', roles: ['ci'] }), undefined, fresh as never),
    ).toThrow('the allocator refused');
    // Its headers were out: cut, not left open for ever; and no framework was connected.
    expect(fresh.destroyed).toBe(true);
    expect(master.frameworkDisconnected).not.toHaveBeenCalled();

    const again = new FakeResponse();
    expect(() =>
      controller.call(
        subscribe({ id: 'fw-1', name: 'old', roles: ['ci'] }),
        undefined,
        again as never,
      ),
    ).toThrow('the allocator refused');
    expect(again.destroyed).toBe(true);
    expect(master.frameworkDisconnected).toHaveBeenCalledWith('fw-1', expect.anything());
  });

  it('answers a refused subscription with the refusal, before its stream starts', () => {
    const refusal = new HttpException('the master keeps 1000 frameworks already', 429);
    const master = {
      checkSubscription: vi.fn(() => {
        throw refusal;
      }),
      subscribeFramework: vi.fn(),
      frameworkDisconnected: vi.fn(),
    };
    const controller = new SchedulerController(master as unknown as MasterService);

    const res = new FakeResponse();
    expect(() =>
      controller.call(subscribe({ name: 'one-too-many', roles: ['ci'] }), undefined, res as never),
    ).toThrow(refusal);
    // Nothing of a stream was sent: Nest answers with the 429 and its message.
    expect(res.headersSent).toBe(false);
    expect(master.subscribeFramework).not.toHaveBeenCalled();
  });
});
