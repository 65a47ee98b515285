import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { KilnProcess } from './support/kiln-process';
import { printProcessesOnFailure } from './support/on-failure';
import { shellTask, TestFramework } from './support/test-framework';

const TOKEN = 'e2e-kill-token-0123456789abcdef';

describe('a task ended before its command starts', () => {
  beforeEach(printProcessesOnFailure);
  let master: KilnProcess;
  let agent: KilnProcess;
  let framework: TestFramework;
  let hangUp: Server;
  let port: number;
  let markers: string;

  beforeAll(async () => {
    markers = mkdtempSync(join(tmpdir(), 'kiln-e2e-kill-'));
    // A source server that hangs up on every request: the checkout waits for it (up to a
    // minute), as for a server that is restarting.
    hangUp = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => hangUp.listen(0, '127.0.0.1', resolve));
    port = (hangUp.address() as { port: number }).port;
    master = KilnProcess.start('master', { KILN_CLUSTER_TOKEN: TOKEN });
    const url = await master.url();
    agent = KilnProcess.start('agent', {
      KILN_CLUSTER_TOKEN: TOKEN,
      KILN_MASTER_URL: url,
      KILN_AGENT_RESOURCES: 'cpus:2;mem:1024;disk:100',
      KILN_AGENT_CONTAINERIZERS: 'process',
    });
    await agent.url();
    framework = await TestFramework.start(url, TOKEN, { name: 'killer', roles: ['killer'] });
  });

  afterAll(async () => {
    await framework.close();
    await Promise.all([agent.dispose(), master.dispose()]);
    await new Promise((resolve) => hangUp.close(resolve));
    rmSync(markers, { recursive: true, force: true });
  });

  it('ends killed while its checkout waits, and never runs', async () => {
    const marker = join(markers, 'ran');
    framework.launch(
      shellTask('killed-in-checkout', `touch ${marker}`, {
        source: { url: `http://127.0.0.1:${port}/repo.git`, sha: 'a'.repeat(40) },
      }),
    );
    await framework.waitForState('killed-in-checkout', 'TASK_STARTING');
    await framework.client.kill('killed-in-checkout');
    // Well before the checkout would give up on its own (a minute).
    const killed = await framework.waitForState('killed-in-checkout', 'TASK_KILLED', 20_000);
    expect(killed).toMatchObject({ reason: 'KILLED_BY_FRAMEWORK' });
    expect(framework.statusesOf('killed-in-checkout').map((s) => s.state)).not.toContain(
      'TASK_RUNNING',
    );
    expect(existsSync(marker)).toBe(false);
  });

  it('ends a task its containerizer cannot run at once, without waiting for its checkout', async () => {
    const marker = join(markers, 'refused-ran');
    framework.launch(
      shellTask('refused-in-checkout', '', {
        source: { url: `http://127.0.0.1:${port}/repo.git`, sha: 'c'.repeat(40) },
        command: {
          shell: true,
          value: `touch ${marker}`,
          // A name /bin/sh cannot pass on: the process containerizer refuses the task.
          environment: { 'NOT-A-SHELL-NAME': 'x' },
        },
      }),
    );
    // Well before the checkout would give up on its own (a minute).
    const refused = await framework.waitForState('refused-in-checkout', 'TASK_ERROR', 20_000);
    expect(refused).toMatchObject({ reason: 'CONTAINERIZER_NOT_SUPPORTED' });
    expect(refused.message).toMatch(/NOT-A-SHELL-NAME/);
    expect(existsSync(marker)).toBe(false);
  });
});
