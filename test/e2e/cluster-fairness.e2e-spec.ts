import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { KilnProcess } from './support/kiln-process';
import { printProcessesOnFailure } from './support/on-failure';
import { shellTask, TestFramework } from './support/test-framework';

const TOKEN = 'e2e-fairness-token-0123456789';

interface FrameworkView {
  id: string;
  allocated: { cpus: number };
}

describe('DRF fairness on a saturated cluster', () => {
  beforeEach(printProcessesOnFailure);
  const processes: KilnProcess[] = [];
  const frameworks: TestFramework[] = [];
  let url: string;

  beforeAll(async () => {
    const master = KilnProcess.start('master', {
      KILN_CLUSTER_TOKEN: TOKEN,
      KILN_MASTER_ROLE_WEIGHTS: 'light=1,heavy=2',
      KILN_MASTER_ALLOCATION_INTERVAL_MS: '100',
    });
    processes.push(master);
    url = await master.url();
  });

  afterAll(async () => {
    await Promise.all(frameworks.map((f) => f.close()));
    await Promise.all(processes.map((p) => p.dispose()));
  });

  it('gives frameworks in roles weighted 1 and 2 allocation shares within 10 % of 1:2', async () => {
    // The split must come from DRF alone, never from who answered faster on a busy machine: both
    // frameworks subscribe before the agent exists, both want more than there is (32 tasks of a
    // quarter cpu each, on one 8-cpu agent), tasks outlast the test, and each framework places
    // one task per offer and hands the rest back, so every quarter cpu goes to whichever role
    // has the lower weighted share at that moment. Greedy DRF then ends at 11 and 21 slots in
    // either tie order (a plain 1:1 split would be 16 and 16).
    const light = await TestFramework.start(url, TOKEN, { name: 'light', roles: ['light'] });
    const heavy = await TestFramework.start(url, TOKEN, { name: 'heavy', roles: ['heavy'] });
    frameworks.push(light, heavy);
    for (const framework of [light, heavy]) {
      framework.maxTasksPerOffer = 1;
      for (let i = 0; i < 32; i += 1) {
        framework.launch({
          ...shellTask(`${framework === light ? 'l' : 'h'}-${i}`, 'sleep 300'),
          resources: { cpus: 0.25, mem: 64, disk: 0, ports: [] },
        });
      }
    }
    try {
      const agent = KilnProcess.start('agent', {
        KILN_CLUSTER_TOKEN: TOKEN,
        KILN_MASTER_URL: url,
        KILN_AGENT_HOSTNAME: 'fair',
        KILN_AGENT_RESOURCES: 'cpus:8;mem:4096;disk:100',
      });
      processes.push(agent);
      await agent.url();

      const allocated = await light.waitFor(
        async () => {
          const res = await fetch(`${url}/api/v1/state`, {
            headers: { authorization: `Bearer ${TOKEN}` },
          });
          const { frameworks: views } = (await res.json()) as { frameworks: FrameworkView[] };
          const cpus = {
            light: views.find((f) => f.id === light.id)?.allocated.cpus ?? 0,
            heavy: views.find((f) => f.id === heavy.id)?.allocated.cpus ?? 0,
          };
          // Full: every slot placed, none still out on offer.
          const placed = light.launched.length + heavy.launched.length;
          return placed === 32 && cpus.light + cpus.heavy === 8 ? cpus : undefined;
        },
        60_000,
        'all 32 slots placed',
      );
      const ratio = allocated.heavy / allocated.light;
      expect(light.launched.length).toBe(11);
      expect(heavy.launched.length).toBe(21);
      expect(Math.abs(ratio - 2) / 2, `heavy:light = ${ratio.toFixed(2)}`).toBeLessThanOrEqual(0.1);
    } finally {
      await Promise.all([light, heavy].map((f) => f.client.teardown().catch(() => undefined)));
    }
  });
});
