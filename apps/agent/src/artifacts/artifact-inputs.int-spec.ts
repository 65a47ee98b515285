import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { shellTask } from '../../../../test/e2e/support/test-framework';
import { InProcessCluster } from '../../../../test/integration/support/in-process-cluster';
import { fetchArtifactInputs } from './artifact-inputs';
import { FakeArtifactServer } from './fake-artifact-server';

const TOKEN = 'artifact-inputs-int-token-0123456789';

/** A master and an agent in this process; a framework launches tasks that have inputs. */
describe(`${fetchArtifactInputs.name} in the agent`, () => {
  let dataDir: string;
  let cluster: InProcessCluster;
  let artifacts: FakeArtifactServer;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'kiln-agent-inputs-'));
    artifacts = await FakeArtifactServer.start();
    cluster = await InProcessCluster.start({ token: TOKEN, dataDir, framework: 'inputs' });
  });

  afterEach(() => cluster?.stopSinks());

  afterAll(async () => {
    await cluster?.close();
    await artifacts?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('places the inputs before the command runs and says so in the log', async () => {
    const logs = await cluster.sink();
    const file = artifacts.serve('/runs/5/dist/app.tgz', 'dist/app.tgz', 'the build\n');
    cluster.framework.launch(
      shellTask('with-inputs', 'cat dist/app.tgz', {
        logSink: logs.sink,
        inputs: { token: 'in-tok', files: [file] },
      }),
    );

    expect(await cluster.endOf('with-inputs')).toMatchObject({ state: 'TASK_FINISHED' });
    expect(logs.text).toBe(
      `kiln: artifact dist/app.tgz: fetched (10 bytes, sha256 ${file.sha256.slice(0, 12)})\n` +
        'the build\n',
    );
  });

  it('fails the task before its command when an input is wrong, naming it', async () => {
    const logs = await cluster.sink();
    const file = artifacts.serve('/runs/5/bad.tgz', 'bad.tgz', 'expected');
    artifacts.stored.set('/runs/5/bad.tgz', Buffer.from('tampered'));
    cluster.framework.launch(
      shellTask('bad-input', 'echo the command ran', {
        logSink: logs.sink,
        inputs: { token: 'in-tok', files: [file] },
      }),
    );

    const end = await cluster.endOf('bad-input');
    expect(end).toMatchObject({ state: 'TASK_FAILED', reason: 'ARTIFACT_INPUTS_FAILED' });
    expect(end.message).toMatch(/^artifact bad\.tgz: sha256 mismatch: expected [0-9a-f]{64}, got /);
    expect(logs.text).toBe(`kiln: fetching artifacts failed: ${end.message}\n`);
  });
});
