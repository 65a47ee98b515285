import type { AgentInfo, SchedulerEvent, TaskInfo, TaskStatus } from '@kiln/contracts';
import { randomUUID } from 'node:crypto';
import type { EventStream } from '../../streams/event-stream';
import { AgentRegistry, type AgentRecord } from '../agent-registry';
import { AllocationLoop } from '../allocation-loop';
import { FrameworkRegistry, type FrameworkRecord } from '../framework-registry';
import { MasterMetrics } from '../master.metrics';
import { OfferBook } from '../offer-book';
import { ResourceAccounting } from '../resource-accounting';
import { TaskBook } from '../task-book';

/** A subscriber's stream that keeps what the master sent it. */
export class RecordingStream {
  readonly id = randomUUID();
  readonly sent: object[] = [];
  isOpen = true;

  send(event: object): boolean {
    if (!this.isOpen) return false;
    this.sent.push(event);
    return true;
  }

  end(): void {
    this.isOpen = false;
  }

  asStream(): EventStream {
    return this;
  }

  types(): string[] {
    return (this.sent as Array<{ type: string }>).map((e) => e.type);
  }

  updates(): TaskStatus[] {
    return (this.sent as SchedulerEvent[]).flatMap((e) =>
      e.type === 'UPDATE' ? [e.update.status] : [],
    );
  }
}

export const AGENT_INFO: AgentInfo = {
  id: 'agent-1',
  hostname: 'a1',
  resources: { cpus: 4, mem: 4096, disk: 0, ports: [] },
  attributes: {},
  containerizers: ['process'],
  version: 'test',
};

export function taskInfo(taskId: string): TaskInfo {
  return {
    taskId,
    name: 'build',
    resources: { cpus: 1, mem: 512 },
    command: { shell: true, value: 'true' },
  } as TaskInfo;
}

/** The master's parts, wired as MasterService wires them, with one framework and one agent. */
export function clusterParts(): {
  accounting: ResourceAccounting;
  agents: AgentRegistry;
  frameworks: FrameworkRegistry;
  offers: OfferBook;
  tasks: TaskBook;
  allocation: AllocationLoop;
  metrics: MasterMetrics;
  framework: FrameworkRecord;
  frameworkStream: RecordingStream;
  agent: AgentRecord;
  agentStream: RecordingStream;
} {
  const metrics = new MasterMetrics();
  const accounting = new ResourceAccounting();
  const agents = new AgentRegistry();
  const frameworks = new FrameworkRegistry();
  const tasks = new TaskBook(accounting, frameworks);
  const offers = new OfferBook(accounting, frameworks, metrics);
  const allocation = new AllocationLoop(accounting, agents, frameworks, offers, metrics);

  const frameworkStream = new RecordingStream();
  const framework: FrameworkRecord = {
    id: 'fw-1',
    name: 'builds',
    roles: ['ci'],
    failoverTimeoutMs: 60_000,
    stream: frameworkStream.asStream(),
    deferredReconcile: new Map(),
  };
  frameworks.add(framework);
  accounting.addFramework(framework.id, framework.roles);

  const agentStream = new RecordingStream();
  agents.register(AGENT_INFO, agentStream.asStream());
  accounting.addAgent(AGENT_INFO);
  const agent = agents.get(AGENT_INFO.id)!;
  return {
    accounting,
    agents,
    frameworks,
    offers,
    tasks,
    allocation,
    metrics,
    framework,
    frameworkStream,
    agent,
    agentStream,
  };
}

/** The offers a framework's stream received, oldest first. */
export function offersSent(stream: RecordingStream): Array<{ id: string; resources: object }> {
  return (stream.sent as SchedulerEvent[]).flatMap((e) =>
    e.type === 'OFFERS' ? e.offers.offers : [],
  );
}
