import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { shellTask } from '../e2e/support/test-framework';
import { LogShipping } from '../../apps/agent/src/logs/log-shipping';
import { InProcessCluster } from './support/in-process-cluster';

const TOKEN = 'log-shipping-int-token-0123456789';

/** A master and an agent in this process, a framework that launches tasks with a log sink. */
describe(LogShipping.name, () => {
  let dataDir: string;
  let cluster: InProcessCluster;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'kiln-agent-logs-'));
    cluster = await InProcessCluster.start({ token: TOKEN, dataDir, framework: 'logs' });
  });

  afterEach(() => cluster?.stopSinks());

  afterAll(async () => {
    await cluster?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("has the task's whole output at the server before its end is reported", async () => {
    const logs = await cluster.sink();
    cluster.framework.launch(
      shellTask('streamed', "echo one; sleep 0.2; echo two 1>&2; printf 'no newline'", {
        logSink: logs.sink,
      }),
    );
    expect(await cluster.endOf('streamed')).toMatchObject({ state: 'TASK_FINISHED' });
    const reported = cluster.framework.arrivals.find(
      (a) => a.taskId === 'streamed' && a.state === 'TASK_FINISHED',
    );
    expect(logs.completedAt).toBeLessThanOrEqual(reported?.at ?? 0);
    expect(logs.text).toBe('one\nno newline');
  });

  it('writes why into the log of a task whose source cannot be checked out', async () => {
    const logs = await cluster.sink();
    cluster.framework.launch(
      shellTask('no-source', 'true', {
        logSink: logs.sink,
        source: { url: `file://${join(dataDir, 'missing.git')}`, sha: 'a'.repeat(40), ref: 'main' },
      }),
    );
    expect(await cluster.endOf('no-source')).toMatchObject({
      state: 'TASK_FAILED',
      reason: 'SOURCE_CHECKOUT_FAILED',
    });
    expect(logs.complete).toBe(true);
    expect(logs.text).toMatch(/^kiln: source checkout failed: cannot check out a+ of /);
  });
});
