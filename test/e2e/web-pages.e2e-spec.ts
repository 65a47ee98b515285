import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { browserTestsRunnable, SCREENSHOTS } from './support/browser';
import { printProcessesOnFailure } from './support/on-failure';
import type { PipelineStack, RunView } from './support/pipeline-stack';
import { WebStack } from './support/web-stack';

const ADMIN_PASSWORD = 'e2e-web-pages-admin-password';

// a → b, a → c: a graph of two columns.
const GRAPH_PIPELINE = `
jobs:
  a:
    steps:
      - run: echo a; i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done
  b:
    needs: a
    steps:
      - run: echo b
  c:
    needs: a
    steps:
      - run: echo c
`;
// The agent has 4096 MiB: while hog holds 3072, squeeze (2048) waits queued; after waits blocked.
const WAITING_PIPELINE = `
jobs:
  hog:
    resources: { cpus: 1, mem: 3072 }
    steps:
      - run: echo holding; sleep 60
  squeeze:
    resources: { cpus: 1, mem: 2048 }
    steps:
      - run: echo squeezed in
  after:
    needs: hog
    steps:
      - run: echo never
`;

interface JobWithUsage {
  key: string;
  state: string;
  usage?: { cpuSeconds?: number; memPeakBytes?: number };
}

describe.skipIf(!browserTestsRunnable)(
  'web UI in Chromium: job graph, queue, cluster, tokens',
  () => {
    beforeEach(printProcessesOnFailure);
    let web: WebStack;
    let stack: PipelineStack;
    let page: Page;

    beforeAll(async () => {
      web = await WebStack.start('pages', { adminPassword: ADMIN_PASSWORD });
      stack = web.stack;
      page = await web.newPage();
      await web.signIn(page, 'admin', ADMIN_PASSWORD);
    });

    afterAll(() => web?.dispose());

    /** In-app navigation: a reload would drop the CSRF token the app keeps in memory. */
    async function openFromHeader(name: string): Promise<void> {
      await page.locator('.topbar nav').getByRole('link', { name, exact: true }).click();
      await page.waitForURL(
        (url) => url.pathname === (name === 'Repositories' ? '/' : `/${name.toLowerCase()}`),
      );
    }

    it('draws the run as a graph of its needs, with each job’s usage once it ends', async () => {
      const runId = await web.push({ '.kiln.yml': GRAPH_PIPELINE }, 'A graph');
      const ended = await stack.waitForRun(runId);
      expect(ended.state).toBe('success');

      await page.getByRole('link', { name: 'acme/pages' }).click();
      await page.locator('tr[data-run="1"]').getByRole('link', { name: '#1' }).click();
      await page.getByRole('heading', { name: /Run #1/ }).waitFor();
      const graph = page.locator('.job-graph');
      await graph.locator('[data-node="c"]').getByText('success').waitFor();
      expect(await graph.locator('[data-node]').count()).toBe(3);
      const edges = await graph.locator('path[data-edge]').all();
      const edgeNames = await Promise.all(edges.map((edge) => edge.getAttribute('data-edge')));
      expect(edgeNames.sort()).toEqual(['a->b', 'a->c']);
      // a in the first column, b and c side by side in the second.
      const box = async (key: string) => graph.locator(`[data-node="${key}"]`).boundingBox();
      const [a, b, c] = await Promise.all([box('a'), box('b'), box('c')]);
      expect(b?.x).toBe(c?.x);
      expect(b?.x ?? 0).toBeGreaterThan((a?.x ?? 0) + (a?.width ?? 0));

      const jobs = ended.jobs as unknown as JobWithUsage[];
      for (const job of jobs) {
        const row = page.locator(`tr[data-job="${job.key}"]`);
        expect(job.usage?.cpuSeconds, `${job.key} has usage`).toBeDefined();
        expect(await row.locator('td.usage-cpu').textContent()).toMatch(/^\d+(\.\d+)?s$/);
        if (job.usage?.memPeakBytes !== undefined) {
          expect(await row.locator('td.usage-mem').textContent()).toMatch(/^\d+(\.\d)? [KMG]?i?B$/);
        }
        expect(await row.locator('td.status').textContent()).toContain('exited with code 0');
      }
      await page.screenshot({ path: join(SCREENSHOTS, 'run-graph.png') });

      await graph.locator('[data-node="b"]').click();
      await page.waitForURL(/\/runs\/[^/]+\/jobs\/[^/]+$/);
      const bId = ended.jobs.find((j) => j.key === 'b')?.id ?? '';
      expect(new URL(page.url()).pathname).toBe(`/runs/${runId}/jobs/${bId}`);
    });

    it('shows in the queue what waits and why, until the run is canceled', async () => {
      const runId = await web.push({ '.kiln.yml': WAITING_PIPELINE }, 'Too big together');
      await stack.waitForRun(
        runId,
        (run: RunView) => run.jobs.find((j) => j.key === 'hog')?.state === 'running',
        30_000,
      );
      await openFromHeader('Queue');
      await page.getByRole('heading', { name: 'Queue' }).waitFor();
      const after = page.locator('tr[data-job="after"]');
      await after.locator('.state').getByText('blocked').waitFor();
      expect(await after.getByRole('link', { name: 'acme/pages' }).count()).toBe(1);
      expect(await after.getByRole('link', { name: '#2' }).count()).toBe(1);
      expect(await after.locator('td.status').textContent()).toBe('waits for hog (running)');
      const squeeze = page.locator('tr[data-job="squeeze"]');
      await squeeze.locator('.state').getByText('queued').waitFor();
      await squeeze.locator('td.status').getByText(/2048/).waitFor();
      expect(await page.locator('tr[data-job="hog"]').count()).toBe(0);
      await page.screenshot({ path: join(SCREENSHOTS, 'queue.png') });

      await stack.ok('POST', `/api/v1/runs/${runId}/cancel`);
      await page.getByText('Nothing waits').waitFor({ timeout: 10_000 });
    });

    it('shows the agent and how much of it is in use', async () => {
      await openFromHeader('Cluster');
      const agent = page.locator('tr[data-agent]');
      await agent.first().waitFor();
      expect(await agent.count()).toBe(1);
      expect(await agent.locator('td').nth(1).textContent()).toBe('ACTIVE');
      expect(await agent.locator('[role="meter"]').count()).toBe(2);
      expect(await agent.locator('.usage-text').last().textContent()).toMatch(/of 4\.0 GiB$/);
    });

    it('creates a token shown once that works on the API, and revokes it', async () => {
      await openFromHeader('Tokens');
      await page.getByRole('heading', { name: 'API tokens' }).waitFor();
      await page.getByLabel('Name').fill('e2e <laptop>');
      await page.getByRole('button', { name: 'Create token' }).click();
      const shown = page.locator('code[data-token]');
      await shown.waitFor();
      const token = (await shown.textContent()) ?? '';
      expect(token.length).toBeGreaterThan(20);
      const row = page.locator('tr[data-token-name="e2e <laptop>"]');
      await row.waitFor();
      expect(await row.locator('td').first().textContent()).toBe('e2e <laptop>');

      const me = (): Promise<Response> =>
        fetch(`${stack.serverUrl}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } });
      const answer = await me();
      expect(answer.status).toBe(200);
      expect(((await answer.json()) as { username: string }).username).toBe('admin');

      // Shown once: leaving the page forgets it.
      await openFromHeader('Repositories');
      await openFromHeader('Tokens');
      await row.waitFor();
      expect(await shown.count()).toBe(0);

      await row.getByRole('button', { name: 'Revoke' }).click();
      await row.waitFor({ state: 'detached' });
      expect((await me()).status).toBe(401);
      expect(web.dialogs).toEqual([]);
    });
  },
);
