import { add, emptyResources, type Resources } from '@kiln/contracts';
import type { AgentRegistry } from './agent-registry';
import type { FrameworkRegistry } from './framework-registry';
import type { MasterMetrics } from './master.metrics';
import type { OfferBook } from './offer-book';
import type { ResourceAccounting } from './resource-accounting';
import type { TaskBook, TaskRecord } from './task-book';

export interface ClusterState {
  agents: object[];
  frameworks: object[];
  roles: object[];
  tasks: object[];
  completedTasks: object[];
  offers: object[];
}

/** The parts of the master the operator view reads. */
export interface ClusterParts {
  accounting: ResourceAccounting;
  agents: AgentRegistry;
  frameworks: FrameworkRegistry;
  offers: OfferBook;
  tasks: TaskBook;
}

/** What the cluster looks like now, for the operator API. */
export function describeCluster(parts: ClusterParts): ClusterState {
  const { accounting, agents, frameworks, offers, tasks } = parts;
  const snapshot = accounting.snapshot();
  const used = accounting.usedByAgent();
  const offered = new Map<string, Resources>();
  for (const { offer } of offers.values()) {
    offered.set(
      offer.agentId,
      add(offered.get(offer.agentId) ?? emptyResources(), offer.resources),
    );
  }
  const shares = new Map(snapshot.frameworks.map((f) => [f.frameworkId, f]));
  const now = Date.now();
  const describeTask = (task: TaskRecord): object => ({
    taskId: task.info.taskId,
    name: task.info.name,
    frameworkId: task.frameworkId,
    agentId: task.agentId,
    role: task.role,
    state: task.state,
    reason: task.status?.reason,
    exitCode: task.status?.exitCode,
    resources: task.info.resources,
  });
  return {
    agents: [...agents.values()].map((agent) => ({
      id: agent.info.id,
      hostname: agent.info.hostname,
      state: agent.state,
      attributes: agent.info.attributes,
      containerizers: agent.info.containerizers,
      resources: {
        total: agent.info.resources,
        used: used.get(agent.info.id) ?? emptyResources(),
        offered: offered.get(agent.info.id) ?? emptyResources(),
      },
      lastSeenMsAgo: now - agent.lastSeen,
    })),
    frameworks: [...frameworks.values()].map((framework) => ({
      id: framework.id,
      name: framework.name,
      roles: framework.roles,
      connected: framework.stream !== undefined,
      share: shares.get(framework.id)?.share ?? 0,
      allocated: shares.get(framework.id)?.allocated ?? emptyResources(),
      suppressedRoles: shares.get(framework.id)?.suppressedRoles ?? [],
    })),
    roles: snapshot.roles,
    tasks: [...tasks.values()].map(describeTask),
    completedTasks: tasks.completed().slice(-100).map(describeTask),
    offers: [...offers.values()].map(({ offer, createdAt }) => ({
      id: offer.id,
      frameworkId: offer.frameworkId,
      agentId: offer.agentId,
      role: offer.role,
      resources: offer.resources,
      ageMs: now - createdAt,
    })),
  };
}

/** Refreshes the gauges that are computed from state rather than counted. */
export function refreshGauges(metrics: MasterMetrics, parts: ClusterParts): void {
  metrics.tasks.reset();
  for (const task of parts.tasks.values()) metrics.tasks.inc({ state: task.state });
  for (const task of parts.tasks.completed()) metrics.tasks.inc({ state: task.state });
  metrics.agents.reset();
  for (const agent of parts.agents.values()) metrics.agents.inc({ state: agent.state });
  metrics.frameworks.reset();
  for (const framework of parts.frameworks.values()) {
    metrics.frameworks.inc({ connected: String(framework.stream !== undefined) });
  }
}
