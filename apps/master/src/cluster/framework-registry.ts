import type { ReconcileTask, SchedulerEvent, TaskStatus } from '@kiln/contracts';
import { BadRequestException, ForbiddenException } from '@nestjs/common';
import type { EventStream } from '../streams/event-stream';

export interface FrameworkRecord {
  id: string;
  name: string;
  roles: string[];
  failoverTimeoutMs: number;
  stream?: EventStream;
  failoverTimer?: NodeJS.Timeout;
  /**
   * Tasks explicitly reconciled and not known yet, by id, answered when agents had the time to
   * return (at most `MAX_DEFERRED_TASKS`).
   */
  deferredReconcile: Map<string, ReconcileTask>;
}

/** The frameworks the master knows: subscribed, failing over, or only known from agents' tasks. */
export class FrameworkRegistry {
  private readonly frameworks = new Map<string, FrameworkRecord>();

  get(frameworkId: string): FrameworkRecord | undefined {
    return this.frameworks.get(frameworkId);
  }

  has(frameworkId: string): boolean {
    return this.frameworks.has(frameworkId);
  }

  /** How many frameworks the master keeps, subscribed or waiting out their failover timeout. */
  get size(): number {
    return this.frameworks.size;
  }

  add(framework: FrameworkRecord): void {
    this.frameworks.set(framework.id, framework);
  }

  delete(frameworkId: string): void {
    this.frameworks.delete(frameworkId);
  }

  values(): IterableIterator<FrameworkRecord> {
    return this.frameworks.values();
  }

  /**
   * The framework whose call this is, checked against its current subscription: a call on the
   * stream of a scheduler that failed over is refused.
   */
  subscribed(frameworkId: string | undefined, streamId: string | undefined): FrameworkRecord {
    const framework = frameworkId === undefined ? undefined : this.frameworks.get(frameworkId);
    if (framework === undefined) {
      throw new ForbiddenException(`framework ${frameworkId} is not subscribed`);
    }
    if (streamId === undefined || streamId === '') {
      throw new BadRequestException('the Kiln-Stream-Id header of the subscription is missing');
    }
    if (framework.stream?.id !== streamId) {
      throw new ForbiddenException(
        `stream ${streamId} is not framework ${framework.id}'s current subscription`,
      );
    }
    return framework;
  }

  /** Sends `event` to every connected framework. */
  broadcast(event: SchedulerEvent): void {
    for (const framework of this.frameworks.values()) framework.stream?.send(event);
  }
}

/** Tells a framework of a task's status; a disconnected framework misses it. */
export function sendUpdate(framework: FrameworkRecord, status: TaskStatus): void {
  status.frameworkId = framework.id;
  framework.stream?.send({ type: 'UPDATE', update: { status } } satisfies SchedulerEvent);
}
