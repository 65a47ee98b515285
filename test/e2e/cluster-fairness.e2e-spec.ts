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
    // Both frameworks subscribe before any agent exists, so neither starts with the whole
    // cluster, and both always want more than there is: a queue of short tasks that never
    // runs dry, each a quarter cpu (32 slots on two 4-cpu agents).
    const light = await TestFramework.start(url, TOKEN, { name: 'light', roles: ['light'] });
    const heavy = await TestFramework.start(url, TOKEN, { name: 'heavy', roles: ['heavy'] });
    frameworks.push(light, heavy);
    let serial = 0;
    const refill = setInterval(() => {
      for (const framework of [light, heavy]) {
        while (framework.pending < 32) {
          serial += 1;
          framework.launch({
            ...shellTask(`${framework === light ? 'l' : 'h'}-${serial}`, 'sleep 1'),
            resources: { cpus: 0.25, mem: 64, disk: 0, ports: [] },
          });
        }
      }
    }, 50);
    try {
      for (const name of ['fair-a', 'fair-b']) {
        const agent = KilnProcess.start('agent', {
          KILN_CLUSTER_TOKEN: TOKEN,
          KILN_MASTER_URL: url,
          KILN_AGENT_HOSTNAME: name,
          KILN_AGENT_RESOURCES: 'cpus:4;mem:4096;disk:100',
        });
        processes.push(agent);
        await agent.url();
      }
      // Let a few generations of tasks end so that DRF, not the start, decides the split.
      await new Promise((r) => setTimeout(r, 4_000));
      const allocated = { light: 0, heavy: 0 };
      for (let i = 0; i < 50; i += 1) {
        const res = await fetch(`${url}/api/v1/state`, {
          headers: { authorization: `Bearer ${TOKEN}` },
        });
        const { frameworks: views } = (await res.json()) as { frameworks: FrameworkView[] };
        allocated.light += views.find((f) => f.id === light.id)?.allocated.cpus ?? 0;
        allocated.heavy += views.find((f) => f.id === heavy.id)?.allocated.cpus ?? 0;
        await new Promise((r) => setTimeout(r, 200));
      }
      const ratio = allocated.heavy / allocated.light;
      expect(light.launched.length).toBeGreaterThan(10);
      expect(heavy.launched.length).toBeGreaterThan(10);
      expect(Math.abs(ratio - 2) / 2, `heavy:light = ${ratio.toFixed(2)}`).toBeLessThanOrEqual(0.1);
    } finally {
      clearInterval(refill);
    }
  });
});
