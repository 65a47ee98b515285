import { freePort } from '@kiln/queue/testing';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeForge, githubPush, webhookHeaders } from './support/forge';
import {
  browserTestsRunnable,
  launchChromium,
  SCREENSHOTS,
  signIn as signInAs,
} from './support/browser';
import { GitDaemon } from './support/git-daemon';
import { printProcessesOnFailure } from './support/on-failure';
import { PipelineStack, type RunView } from './support/pipeline-stack';

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

describe.skipIf(!browserTestsRunnable)(
  'web UI in Chromium: sign in, live runs and logs, cancel, roles',
  () => {
    beforeEach(printProcessesOnFailure);
    let stack: PipelineStack;
    let git: GitDaemon;
    let forge: FakeForge;
    let browser: Browser;
    let admin: BrowserContext;
    let page: Page;
    const dialogs: string[] = [];
    let repo: { id: string; webhookSecret: string };
    let commit: (files: Record<string, string>, message?: string) => string;
    let firstRunId: string;

    beforeAll(async () => {
      git = await GitDaemon.start(await freePort());
      forge = await FakeForge.start();
      stack = await PipelineStack.start({ serverEnv: { KILN_ADMIN_PASSWORD: ADMIN_PASSWORD } });
      browser = await launchChromium();
      admin = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      page = await admin.newPage();
      page.on('dialog', (dialog) => {
        dialogs.push(dialog.message());
        void dialog.dismiss();
      });
      commit = git.createRepository('web');
      repo = await stack.ok('POST', '/api/v1/repositories', {
        forge: 'github',
        fullName: 'acme/web',
        cloneUrl: git.url('web'),
        forgeToken: 'forge-token',
        apiUrl: forge.url,
      });
      mkdirSync(SCREENSHOTS, { recursive: true });
    });

    afterAll(async () => {
      await browser?.close();
      await Promise.all([stack?.dispose(), git?.stop(), forge?.stop()]);
    });

    async function push(files: Record<string, string>, message: string): Promise<string> {
      const sha = commit(files, message);
      const raw = Buffer.from(JSON.stringify(githubPush('acme/web', sha, message)));
      const res = await stack.webhook(
        '/hooks/github',
        webhookHeaders('github', 'push', raw, repo.webhookSecret),
        raw,
      );
      expect(res.status).toBe(202);
      return res.body.runId as string;
    }

    function signIn(on: Page, username: string, password: string): Promise<void> {
      return signInAs(on, stack.serverUrl, username, password);
    }

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
      await signIn(page, 'admin', ADMIN_PASSWORD);
      await page.getByRole('link', { name: 'acme/web' }).click();
      await page.getByText('No runs yet').waitFor();

      firstRunId = await push({ '.kiln.yml': PIPELINE }, COMMIT_MESSAGE);
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
      expect(dialogs).toEqual([]);
      await page.screenshot({ path: join(SCREENSHOTS, 'log.png') });

      const raw = await page.getByRole('link', { name: 'Raw log' }).getAttribute('href');
      expect(await page.evaluate(async (href) => (await fetch(href ?? '')).text(), raw)).toContain(
        'line-5',
      );
    });

    it('cancels a run from the run page; a viewer sees no Cancel and the API refuses theirs', async () => {
      const runId = await push({ '.kiln.yml': SLOW_PIPELINE }, 'A slow one');
      await stack.waitForRun(runId, (run: RunView) => run.jobs[0]?.state === 'running', 30_000);

      // In-app navigation: a reload would drop the CSRF token the app keeps in memory.
      await page.locator('.crumbs').getByRole('link', { name: 'acme/web' }).click();
      await page.locator('tr[data-run="2"]').getByRole('link', { name: '#2' }).click();
      const cancel = page.getByRole('button', { name: 'Cancel' });
      await cancel.waitFor();
      await page.locator('tr[data-job="after"] .state').getByText('blocked').waitFor();
      await page.screenshot({ path: join(SCREENSHOTS, 'run.png') });

      // A viewer of the repository: reads the run, gets no Cancel, and the API says 403.
      const viewer = await stack.ok<{ id: string }>('POST', '/api/v1/users', {
        username: 'vera',
        password: 'vera-viewer-password',
      });
      await stack.ok('PUT', `/api/v1/repositories/${repo.id}/members/${viewer.id}`, {
        role: 'viewer',
      });
      const viewerContext = await browser.newContext();
      try {
        const viewerPage = await viewerContext.newPage();
        await signIn(viewerPage, 'vera', 'vera-viewer-password');
        const members = viewerPage.waitForResponse((r) => r.url().includes('/members'));
        await viewerPage.goto(`${stack.serverUrl}/runs/${runId}`);
        await viewerPage.locator('tr[data-job="slow"] .state').getByText('running').waitFor();
        expect((await members).status()).toBe(200);
        expect(await viewerPage.getByRole('button', { name: 'Cancel' }).count()).toBe(0);
      } finally {
        await viewerContext.close();
      }
      const session = await fetch(`${stack.serverUrl}/api/v1/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'vera', password: 'vera-viewer-password' }),
      });
      const { csrfToken } = (await session.json()) as { csrfToken: string };
      const refused = await fetch(`${stack.serverUrl}/api/v1/runs/${runId}/cancel`, {
        method: 'POST',
        headers: {
          cookie: (session.headers.get('set-cookie') ?? '').split(';')[0] ?? '',
          'x-csrf-token': csrfToken,
        },
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
  },
);
