import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { browserTestsRunnable, SCREENSHOTS } from './support/browser';
import { printProcessesOnFailure } from './support/on-failure';
import type { PipelineStack, RunView } from './support/pipeline-stack';
import { openSession } from './support/user';
import { WebStack } from './support/web-stack';

const ADMIN_PASSWORD = 'e2e-web-admin-password';
const XSS_LINE = '<img src=x onerror=alert(1)>';
const COMMIT_MESSAGE = 'Add the <b>web</b> & "log" test';

// Streams while it runs: the count step prints a line a second.
const PIPELINE = `
jobs:
  build:
    steps:
      - name: greet
        run: |
          printf '\\033[32mgreen\\033[0m plain\\n'
          echo '${XSS_LINE}'
      - name: count
        run: for i in 1 2 3 4 5; do echo line-$i; sleep 1; done
`;
const SLOW_PIPELINE = `
jobs:
  slow:
    steps:
      - run: echo started; sleep 60
  after:
    needs: slow
    steps:
      - run: echo never
`;

const SKIPPED_PIPELINE = `
when: { event: [tag] }
jobs:
  never:
    steps:
      - run: echo never
`;

describe.skipIf(!browserTestsRunnable)(
  'web UI in Chromium: sign in, live runs and logs, cancel, roles',
  () => {
    beforeEach(printProcessesOnFailure);
    let web: WebStack;
    let stack: PipelineStack;
    let page: Page;
    let firstRunId: string;

    beforeAll(async () => {
      web = await WebStack.start('web', { adminPassword: ADMIN_PASSWORD });
      stack = web.stack;
      page = await web.newPage();
    });

    afterAll(() => web?.dispose());

    it('serves the app at / with page and asset cache headers, beside the API', async () => {
      const index = await fetch(`${stack.serverUrl}/runs/deep/link`);
      expect(index.status).toBe(200);
      expect(index.headers.get('cache-control')).toBe('no-cache');
      expect(index.headers.get('content-security-policy')).toContain("script-src 'self'");
      const html = await index.text();
      const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
      expect(script).toBeDefined();
      const asset = await fetch(`${stack.serverUrl}${script}`);
      expect(asset.headers.get('cache-control')).toContain('immutable');
      expect((await fetch(`${stack.serverUrl}/assets/gone-1234.js`)).status).toBe(404);
      const api = await fetch(`${stack.serverUrl}/api/v1/nothing-here`);
      expect(api.status).toBe(404);
      expect(api.headers.get('content-type')).toContain('json');
      expect((await fetch(`${stack.serverUrl}/healthz`)).status).toBe(200);
    });

    it('signs in as admin and shows a webhook-triggered run live in the run list', async () => {
      await web.signIn(page, 'admin', ADMIN_PASSWORD);
      await page.getByRole('link', { name: 'acme/web' }).click();
      await page.getByText('No runs yet').waitFor();

      firstRunId = await web.push({ '.kiln.yml': PIPELINE }, COMMIT_MESSAGE);
      const row = page.locator('tr[data-run="1"]');
      await row.waitFor({ timeout: 10_000 });
      // Commit text from the forge is text: the markup in it shows as typed.
      await row.getByText(COMMIT_MESSAGE, { exact: true }).waitFor();
      expect(await row.locator('b').count()).toBe(0);
      expect(await row.locator('td.branch').textContent()).toBe('main');
    });

    it("streams the job's log into the page while the job prints, as text", async () => {
      await page.locator('tr[data-run="1"]').getByRole('link', { name: '#1' }).click();
      await page.getByRole('heading', { name: /Run #1/ }).waitFor();
      await page.getByRole('link', { name: 'build', exact: true }).click();

      const log = page.locator('.log');
      await log.getByText('line-1', { exact: true }).waitFor({ timeout: 20_000 });
      const whileStreaming = await stack.run(firstRunId);
      expect(whileStreaming.jobs[0]?.state).toBe('running');

      await log.getByText(XSS_LINE, { exact: true }).waitFor();
      expect(await log.locator('img').count()).toBe(0);
      expect(await log.locator('.fg-2').textContent()).toBe('green');
      await log.getByText('line-5', { exact: true }).waitFor({ timeout: 15_000 });
      await page.getByText('complete', { exact: true }).waitFor({ timeout: 15_000 });
      await page.locator('h1 .state').getByText('success').waitFor();
      expect(await log.locator('.step-name').allTextContents()).toEqual(['greet', 'count']);
      expect(web.dialogs).toEqual([]);
      await page.screenshot({ path: join(SCREENSHOTS, 'log.png') });

      const raw = await page.getByRole('link', { name: 'Raw log' }).getAttribute('href');
      expect(await page.evaluate(async (href) => (await fetch(href ?? '')).text(), raw)).toContain(
        'line-5',
      );
    });

    it('cancels a run from the run page; a viewer sees no Cancel and the API refuses theirs', async () => {
      const runId = await web.push({ '.kiln.yml': SLOW_PIPELINE }, 'A slow one');
      await stack.waitForRun(runId, (run: RunView) => run.jobs[0]?.state === 'running', 30_000);

      // In-app navigation: a reload would drop the CSRF token the app keeps in memory.
      await page.locator('.crumbs').getByRole('link', { name: 'acme/web' }).click();
      await page.locator('tr[data-run="2"]').getByRole('link', { name: '#2' }).click();
      const cancel = page.getByRole('button', { name: 'Cancel' });
      await cancel.waitFor();
      await page.locator('tr[data-job="after"] .state').getByText('blocked').waitFor();
      await page.screenshot({ path: join(SCREENSHOTS, 'run.png') });

      // A viewer of the repository: reads the run, gets no Cancel, and the API says 403.
      await web.addMember('vera', 'vera-viewer-password', 'viewer');
      const viewerContext = await web.browser.newContext();
      try {
        const viewerPage = await viewerContext.newPage();
        await web.signIn(viewerPage, 'vera', 'vera-viewer-password');
        const members = viewerPage.waitForResponse((r) => r.url().includes('/members'));
        await viewerPage.goto(`${stack.serverUrl}/runs/${runId}`);
        await viewerPage.locator('tr[data-job="slow"] .state').getByText('running').waitFor();
        expect((await members).status()).toBe(200);
        expect(await viewerPage.getByRole('button', { name: 'Cancel' }).count()).toBe(0);
      } finally {
        await viewerContext.close();
      }
      const { cookie, csrfToken } = await openSession(
        stack.serverUrl,
        'vera',
        'vera-viewer-password',
      );
      const refused = await fetch(`${stack.serverUrl}/api/v1/runs/${runId}/cancel`, {
        method: 'POST',
        headers: { cookie, 'x-csrf-token': csrfToken },
      });
      expect(refused.status).toBe(403);
      expect(((await refused.json()) as { message: string }).message).toMatch(/developer role/);

      await cancel.click();
      await page.locator('h1 .state').getByText('canceled').waitFor({ timeout: 10_000 });
      await page.locator('tr[data-job="slow"] .state').getByText('canceled').waitFor();
      expect(await cancel.count()).toBe(0);
      await page.getByRole('button', { name: 'Rerun', exact: true }).waitFor();
      expect((await stack.run(runId)).state).toBe('canceled');
    });

    it('filters the run list by state, event and branch', async () => {
      await page.locator('.crumbs').getByRole('link', { name: 'acme/web' }).click();
      await page.locator('tr[data-run="2"]').waitFor();
      const filters = page.getByRole('form', { name: 'Filter runs' });
      await filters.getByLabel('State').selectOption('canceled');
      // The list reloads: run 1 leaves, and only once run 2 is back has the filtered list rendered.
      await page.locator('tr[data-run="1"]').waitFor({ state: 'detached' });
      await page.locator('tr[data-run="2"]').waitFor();
      expect(await page.locator('tr[data-run]').count()).toBe(1);

      await filters.getByLabel('State').selectOption('');
      await filters.getByLabel('Event').selectOption('push');
      await page.locator('tr[data-run="1"]').waitFor();
      await filters.getByLabel('Branch').fill('release/none');
      await filters.getByLabel('Branch').press('Enter');
      await page.getByText('No runs match these filters.').waitFor();
      await filters.getByLabel('Branch').fill('main');
      await filters.getByLabel('Branch').press('Enter');
      await page.locator('tr[data-run="2"]').waitFor();
      expect(await page.locator('tr[data-run]').count()).toBe(2);
    });

    it('pages the run list: the newest 25 runs, then the older ones on demand', async () => {
      const filters = page.getByRole('form', { name: 'Filter runs' });
      await filters.getByLabel('Branch').fill('');
      await filters.getByLabel('Branch').press('Enter');
      await filters.getByLabel('Event').selectOption('');
      // Runs that end at once: the pipeline runs for tags only.
      await stack.waitForRun(
        await web.push({ '.kiln.yml': SKIPPED_PIPELINE }, 'Run for tags only'),
      );
      for (let i = 0; i < 25; i += 1) {
        await stack.ok('POST', `/api/v1/repositories/${web.repo.id}/runs`, { branch: 'main' });
      }
      // Runs #28 down to #4 on the first page.
      await page.locator('tr[data-run="28"]').waitFor();
      await page.locator('tr[data-run="4"]').waitFor();
      expect(await page.locator('tr[data-run]').count()).toBe(25);
      expect(await page.locator('tr[data-run="3"]').count()).toBe(0);
      await page.getByRole('button', { name: 'Older runs' }).click();
      await page.locator('tr[data-run="1"]').waitFor();
      expect(await page.locator('tr[data-run]').count()).toBe(28);
      await page.getByRole('button', { name: 'Older runs' }).waitFor({ state: 'detached' });
    });
  },
);
