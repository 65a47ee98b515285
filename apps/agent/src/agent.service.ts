import { AgentEnv } from '@kiln/config';
import type {
  AgentEvent,
  AgentInfo,
  AgentTask,
  ContainerizerName,
  TaskState,
  TaskStatus,
} from '@kiln/contracts';
import type { Containerizer } from '@kiln/containerizer';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { chmodSync, mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { AGENT_ID } from './agent-identity';
import { CONTAINERIZERS } from './containerizers.token';
import { fingerprint } from './fingerprint/fingerprint';
import { MasterConnection } from './master/master-connection';
import { StatusUpdateManager } from './tasks/status-update-manager';
import { TaskRunner } from './tasks/task-runner';
import { TaskStore } from './tasks/task-store';
import { spreadSandboxes } from './workspace/spread-sandboxes';

const VERSION = '0.1.0';

/**
 * A Kiln agent: registers this host's resources with the master, runs the tasks it is sent
 * through a containerizer, and reports their states at least once. It keeps every task it runs
 * on disk, so after a restart (its own or the master's) it re-registers with them and carries on.
 */
@Injectable()
export class AgentService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(AgentService.name);
  private readonly dataDir: string;
  private readonly sandboxes: string;
  private readonly updates: StatusUpdateManager;
  private readonly tasks: TaskRunner;
  private readonly connection: MasterConnection;

  constructor(
    private readonly env: AgentEnv,
    @Inject(CONTAINERIZERS) private readonly containerizers: readonly Containerizer[],
    @Inject(AGENT_ID) private readonly agentId: string,
  ) {
    this.dataDir = resolve(env.KILN_DATA_DIR);
    mkdirSync(this.dataDir, { recursive: true });
    // Nobody but root may list the sandboxes: a build (root in a Docker container, or the
    // native containers' mapped uid) can leave a setuid program in its workspace, and a local
    // user must not find it. Search stays open, as the native containers' own mounts need it.
    this.sandboxes = join(this.dataDir, 'sandboxes');
    mkdirSync(this.sandboxes, { recursive: true });
    chmodSync(this.sandboxes, 0o711);
    const store = new TaskStore(this.dataDir);
    this.updates = new StatusUpdateManager(
      store,
      (frameworkId, status, latestState) => this.sendUpdate(frameworkId, status, latestState),
      (checkpoint) => this.tasks.onTaskDone(checkpoint),
    );
    this.tasks = new TaskRunner({
      env,
      agentId,
      dataDir: this.dataDir,
      containerizers,
      store,
      updates: this.updates,
    });
    this.connection = new MasterConnection(env.KILN_MASTER_URL, env.KILN_CLUSTER_TOKEN, agentId, {
      subscribeCall: () => this.subscribeCall(),
      onEvent: (event) => this.onEvent(event),
      onConnected: (connected) => this.updates.setConnected(connected),
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    const unspread = await spreadSandboxes(this.sandboxes);
    if (unspread !== undefined) {
      this.logger.debug(`sandboxes stay in their directory's block group: ${unspread}`);
    }
    await this.tasks.recover();
    this.connection.start();
  }

  async onModuleDestroy(): Promise<void> {
    // Tasks keep running: a restarted agent re-attaches to them (Mesos' agent recovery).
    const disconnected = this.connection.stop();
    this.updates.stop();
    await Promise.all([disconnected, this.tasks.stop()]);
  }

  get id(): string {
    return this.agentId;
  }

  /** What this agent has and runs, as it (re-)subscribes. */
  private async subscribeCall(): Promise<{ agentInfo: AgentInfo; tasks: AgentTask[] }> {
    const found = await fingerprint(
      this.dataDir,
      this.env.KILN_AGENT_RESOURCES,
      this.env.KILN_AGENT_ATTRIBUTES,
    );
    return {
      agentInfo: {
        id: this.agentId,
        hostname: this.env.KILN_AGENT_HOSTNAME ?? hostname(),
        resources: found.resources,
        attributes: found.attributes,
        containerizers: this.containerizers
          .map((c) => c.name)
          .filter((name): name is ContainerizerName => name !== 'composing'),
        version: VERSION,
      },
      tasks: this.updates.checkpoints().map((c) => ({
        frameworkId: c.frameworkId,
        role: c.role,
        taskInfo: c.taskInfo,
        state: c.state,
      })),
    };
  }

  private onEvent(event: AgentEvent): void {
    switch (event.type) {
      case 'LAUNCH':
        if (event.launch) void this.tasks.launch(event.launch);
        return;
      case 'KILL':
        if (event.kill) void this.tasks.kill(event.kill.frameworkId, event.kill.taskId);
        return;
      case 'ACKNOWLEDGED':
        if (event.acknowledged) {
          this.updates.acknowledged(event.acknowledged.taskId, event.acknowledged.uuid);
        }
        return;
      case 'SUBSCRIBED':
      case 'HEARTBEAT':
        return;
    }
  }

  private sendUpdate(frameworkId: string, status: TaskStatus, latestState: TaskState): void {
    this.connection.send({
      type: 'UPDATE',
      agentId: this.agentId,
      update: { frameworkId, status, latestState },
    });
  }
}
