import { AgentEnv, loadEnv, MasterEnv } from '@kiln/config';
import type { TaskStatus } from '@kiln/contracts';
import { ValidationPipe, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MasterModule } from '../../apps/master/src/master.module';
import { shellTask, TestFramework } from '../e2e/support/test-framework';
import { AgentModule } from '../../apps/agent/src/agent.module';
import { FakeLogSink } from '../../apps/agent/src/logs/fake-log-sink';
import { LogShipping } from '../../apps/agent/src/logs/log-shipping';

const TOKEN = 'log-shipping-int-token-0123456789';

/** A master and an agent in this process, a framework that launches tasks with a log sink. */
describe(LogShipping.name, () => {
  let dataDir: string;
  let master: NestExpressApplication;
  let agent: INestApplicationContext;
  let framework: TestFramework;
  const sinks: FakeLogSink[] = [];

  async function sink(): Promise<FakeLogSink> {
    const started = await FakeLogSink.start();
    sinks.push(started);
    return started;
  }

  function endOf(taskId: string): Promise<TaskStatus> {
    return framework.waitFor(() =>
      framework
        .statusesOf(taskId)
        .find((s) => s.state !== 'TASK_STARTING' && s.state !== 'TASK_RUNNING'),
    );
  }

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'kiln-agent-logs-'));
    const masterEnv = loadEnv(MasterEnv, { KILN_CLUSTER_TOKEN: TOKEN, KILN_LOG_LEVEL: 'warn' });
    master = await NestFactory.create<NestExpressApplication>(MasterModule.forRoot(masterEnv), {
      logger: false,
    });
    master.useGlobalPipes(
      new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }),
    );
    await master.listen(0, '127.0.0.1');
    const masterUrl = await master.getUrl();
    const agentEnv = loadEnv(AgentEnv, {
      KILN_CLUSTER_TOKEN: TOKEN,
      KILN_MASTER_URL: masterUrl,
      KILN_DATA_DIR: dataDir,
      KILN_AGENT_RESOURCES: 'cpus:2;mem:1024;disk:100',
      KILN_AGENT_CONTAINERIZERS: 'process',
    });
    agent = await NestFactory.createApplicationContext(AgentModule.forRoot(agentEnv), {
      logger: false,
    });
    framework = await TestFramework.start(masterUrl, TOKEN, { name: 'logs', roles: ['ci'] });
  });

  afterEach(async () => {
    await Promise.all(sinks.splice(0).map((s) => s.stop()));
  });

  afterAll(async () => {
    await framework?.close();
    await agent?.close();
    await master?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("has the task's whole output at the server before its end is reported", async () => {
    const logs = await sink();
    framework.launch(
      shellTask('streamed', "echo one; sleep 0.2; echo two 1>&2; printf 'no newline'", {
        logSink: logs.sink,
      }),
    );
    expect(await endOf('streamed')).toMatchObject({ state: 'TASK_FINISHED' });
    const reported = framework.arrivals.find(
      (a) => a.taskId === 'streamed' && a.state === 'TASK_FINISHED',
    );
    expect(logs.completedAt).toBeLessThanOrEqual(reported?.at ?? 0);
    expect(logs.text).toBe('one\nno newline');
  });

  it('writes why into the log of a task whose source cannot be checked out', async () => {
    const logs = await sink();
    framework.launch(
      shellTask('no-source', 'true', {
        logSink: logs.sink,
        source: { url: `file://${join(dataDir, 'missing.git')}`, sha: 'a'.repeat(40), ref: 'main' },
      }),
    );
    expect(await endOf('no-source')).toMatchObject({
      state: 'TASK_FAILED',
      reason: 'SOURCE_CHECKOUT_FAILED',
    });
    expect(logs.complete).toBe(true);
    expect(logs.text).toMatch(/^kiln: source checkout failed: cannot check out a+ of /);
  });
});
