import { AgentEnv, loadEnv, MasterEnv } from '@kiln/config';
import type { TaskStatus } from '@kiln/contracts';
import { ValidationPipe, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AgentModule } from '../../../apps/agent/src/agent.module';
import { FakeLogSink } from '../../../apps/agent/src/logs/fake-log-sink';
import { MasterModule } from '../../../apps/master/src/master.module';
import { TestFramework } from '../../e2e/support/test-framework';

export interface InProcessClusterOptions {
  /** The cluster token: each test file has its own. */
  token: string;
  /** The agent's data directory: the test's to make and to remove. */
  dataDir: string;
  /** The test framework's name. */
  framework: string;
  /** More of the agent's environment; containerizers: `process` unless it says. */
  agentEnv?: Record<string, string>;
}

/**
 * A master and an agent in this process, and a test framework subscribed to the master that
 * launches the tasks it is given, each with a log sink of its own: for tests of what the agent
 * does with a task, from offer to its end.
 */
export class InProcessCluster {
  private readonly sinks: FakeLogSink[] = [];

  private constructor(
    private readonly master: NestExpressApplication,
    private readonly agentEnv: AgentEnv,
    private agent: INestApplicationContext | undefined,
    readonly framework: TestFramework,
  ) {}

  static async start(options: InProcessClusterOptions): Promise<InProcessCluster> {
    const masterEnv = loadEnv(MasterEnv, {
      KILN_CLUSTER_TOKEN: options.token,
      KILN_LOG_LEVEL: 'warn',
    });
    const master = await NestFactory.create<NestExpressApplication>(
      MasterModule.forRoot(masterEnv),
      { logger: false },
    );
    let agent: INestApplicationContext | undefined;
    try {
      master.useGlobalPipes(
        new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }),
      );
      await master.listen(0, '127.0.0.1');
      const masterUrl = await master.getUrl();
      const agentEnv = loadEnv(AgentEnv, {
        KILN_CLUSTER_TOKEN: options.token,
        KILN_MASTER_URL: masterUrl,
        KILN_DATA_DIR: options.dataDir,
        KILN_AGENT_RESOURCES: 'cpus:2;mem:1024;disk:100',
        KILN_AGENT_CONTAINERIZERS: 'process',
        ...options.agentEnv,
      });
      agent = await InProcessCluster.startAgent(agentEnv);
      const framework = await TestFramework.start(masterUrl, options.token, {
        name: options.framework,
        roles: ['ci'],
      });
      return new InProcessCluster(master, agentEnv, agent, framework);
    } catch (error) {
      // A failed start leaves nothing running.
      await agent?.close();
      await master.close();
      throw error;
    }
  }

  private static startAgent(env: AgentEnv): Promise<INestApplicationContext> {
    return NestFactory.createApplicationContext(AgentModule.forRoot(env), { logger: false });
  }

  /** Stops the agent and starts it again on the same data directory, its tasks running on. */
  async restartAgent(): Promise<void> {
    await this.agent?.close();
    this.agent = undefined;
    this.agent = await InProcessCluster.startAgent(this.agentEnv);
  }

  /** A log sink for one task (`.sink` goes in its TaskInfo), stopped by `stopSinks`. */
  async sink(): Promise<FakeLogSink> {
    const started = await FakeLogSink.start();
    this.sinks.push(started);
    return started;
  }

  /** Stops every sink made so far: after each test. */
  async stopSinks(): Promise<void> {
    await Promise.all(this.sinks.splice(0).map((s) => s.stop()));
  }

  /** The status that ended `taskId` (neither starting nor running), once it arrives. */
  endOf(taskId: string, timeoutMs?: number): Promise<TaskStatus> {
    return this.framework.waitFor(
      () =>
        this.framework
          .statusesOf(taskId)
          .find((s) => s.state !== 'TASK_STARTING' && s.state !== 'TASK_RUNNING'),
      timeoutMs,
      `the end of ${taskId}`,
    );
  }

  /** Stops the framework, the agent and the master, in that order (the data directory stays). */
  async close(): Promise<void> {
    await this.stopSinks();
    await this.framework.close();
    await this.agent?.close();
    await this.master.close();
  }
}
