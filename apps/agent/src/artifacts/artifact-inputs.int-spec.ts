import { AgentEnv, loadEnv, MasterEnv } from '@kiln/config';
import type { TaskStatus } from '@kiln/contracts';
import { ValidationPipe, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { shellTask, TestFramework } from '../../../../test/e2e/support/test-framework';
import { MasterModule } from '../../../master/src/master.module';
import { AgentModule } from '../agent.module';
import { FakeLogSink } from '../logs/fake-log-sink';
import { fetchArtifactInputs } from './artifact-inputs';
import { FakeArtifactServer } from './fake-artifact-server';

const TOKEN = 'artifact-inputs-int-token-0123456789';

/** A master and an agent in this process; a framework launches tasks that have inputs. */
describe(`${fetchArtifactInputs.name} in the agent`, () => {
  let dataDir: string;
  let master: NestExpressApplication;
  let agent: INestApplicationContext;
  let framework: TestFramework;
  let artifacts: FakeArtifactServer;
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
    dataDir = mkdtempSync(join(tmpdir(), 'kiln-agent-inputs-'));
    artifacts = await FakeArtifactServer.start();
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
    framework = await TestFramework.start(masterUrl, TOKEN, { name: 'inputs', roles: ['ci'] });
  });

  afterEach(async () => {
    await Promise.all(sinks.splice(0).map((s) => s.stop()));
  });

  afterAll(async () => {
    await framework?.close();
    await agent?.close();
    await master?.close();
    await artifacts?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('places the inputs before the command runs and says so in the log', async () => {
    const logs = await sink();
    const file = artifacts.serve('/runs/5/dist/app.tgz', 'dist/app.tgz', 'the build\n');
    framework.launch(
      shellTask('with-inputs', 'cat dist/app.tgz', {
        logSink: logs.sink,
        inputs: { token: 'in-tok', files: [file] },
      }),
    );

    expect(await endOf('with-inputs')).toMatchObject({ state: 'TASK_FINISHED' });
    expect(logs.text).toBe(
      `kiln: artifact dist/app.tgz: fetched (10 bytes, sha256 ${file.sha256.slice(0, 12)})\n` +
        'the build\n',
    );
  });

  it('fails the task before its command when an input is wrong, naming it', async () => {
    const logs = await sink();
    const file = artifacts.serve('/runs/5/bad.tgz', 'bad.tgz', 'expected');
    artifacts.stored.set('/runs/5/bad.tgz', Buffer.from('tampered'));
    framework.launch(
      shellTask('bad-input', 'echo the command ran', {
        logSink: logs.sink,
        inputs: { token: 'in-tok', files: [file] },
      }),
    );

    const end = await endOf('bad-input');
    expect(end).toMatchObject({ state: 'TASK_FAILED', reason: 'ARTIFACT_INPUTS_FAILED' });
    expect(end.message).toMatch(/^artifact bad\.tgz: sha256 mismatch: expected [0-9a-f]{64}, got /);
    expect(logs.text).toBe(`kiln: fetching artifacts failed: ${end.message}\n`);
  });
});
