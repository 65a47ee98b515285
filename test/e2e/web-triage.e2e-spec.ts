import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { browserTestsRunnable, SCREENSHOTS } from './support/browser';
import { printProcessesOnFailure } from './support/on-failure';
import type { PipelineStack, RunView } from './support/pipeline-stack';
import { WebStack } from './support/web-stack';

const ADMIN_PASSWORD = 'e2e-web-triage-admin-password';
const FAILURE_LINE = 'expected 2 but got 3';

// build fails in its second step after a dozen lines; each attempt prints which it is.
const PIPELINE = `
jobs:
  build:
    steps:
      - name: prepare
        run: echo "preparing attempt $KILN_JOB_ATTEMPT"
      - name: test
        run: |
          for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo "test $i ok"; done
          echo "${FAILURE_LINE}"
          exit 1
      - name: never
        run: echo not reached
  lint:
    steps:
      - run: echo lint ok
`;

describe.skipIf(!browserTestsRunnable)(
  'web UI in Chromium: a developer triaging a failed run',
  () => {
    beforeEach(printProcessesOnFailure);
    let web: WebStack;
    let stack: PipelineStack;
    let page: Page;
    let run: RunView;
    let build: { id: string; statusMessage?: string };

    beforeAll(async () => {
      web = await WebStack.start('triage', { adminPassword: ADMIN_PASSWORD });
      stack = web.stack;
      page = await web.newPage();
      await web.signIn(page, 'admin', ADMIN_PASSWORD);
      const runId = await web.push({ '.kiln.yml': PIPELINE }, 'Break the tests');
      run = await stack.waitForRun(runId);
      expect(run.state).toBe('failure');
      build = run.jobs.find((job) => job.key === 'build') ?? { id: '' };
    });

    afterAll(() => web?.dispose());

    it('names the failing step on the run page with the last lines before the failure', async () => {
      await page.getByRole('link', { name: 'acme/triage' }).click();
      await page.locator('tr[data-run="1"]').getByRole('link', { name: '#1' }).click();
      const failure = page.locator('[data-failed-job="build"]');
      await failure.locator('.failing-step').getByText('test', { exact: true }).waitFor();
      const lines = failure.locator('.excerpt-line .text');
      await lines.last().getByText(FAILURE_LINE, { exact: true }).waitFor();
      expect(await lines.count()).toBe(10);
      expect(await lines.first().textContent()).toBe('test 4 ok');
      expect(await page.locator('[data-failed-job="lint"]').count()).toBe(0);
      expect(await page.title()).toBe('Run #1 failure · Kiln');
      // The status says it once: not "exited with code 1 (…) · COMMAND_EXITED_NONZERO · exit code 1".
      expect(await page.locator('tr[data-job="build"] td.status').textContent()).toBe(
        build.statusMessage,
      );
      await page.screenshot({ path: join(SCREENSHOTS, 'failure.png'), fullPage: true });
    });

    it('opens the log at the failure line from the excerpt, with the failing step marked', async () => {
      const failure = page.locator('[data-failed-job="build"]');
      const last = failure.locator('.excerpt-line').last();
      const n = Number(await last.locator('.ln').textContent());
      await last.getByRole('link', { name: `Line ${n}` }).click();
      await page.waitForURL(`${stack.serverUrl}/runs/${run.id}/jobs/${build.id}#L${n}`);
      const target = page.locator('.log .line.target');
      await target.getByText(FAILURE_LINE, { exact: true }).waitFor();
      expect(await target.getAttribute('id')).toBe(`L${n}`);
      await page.locator('.step-head.failing[data-step="test"]').waitFor();
      expect(await page.locator('.step-head.failing').count()).toBe(1);
      await page.getByText('Failed at step test (exit code 1)').waitFor();
      expect(await page.title()).toBe('build failure · run #1 · Kiln');
      await page.screenshot({ path: join(SCREENSHOTS, 'failure-log.png') });
    });

    it('switches jobs from the sidebar; a failed job opens at its failing step by itself', async () => {
      const sidebar = page.getByRole('navigation', { name: 'Jobs of the run' });
      expect(await sidebar.locator('[aria-current="page"]').getAttribute('data-sidebar-job')).toBe(
        'build',
      );
      await sidebar.locator('[data-sidebar-job="lint"]').click();
      await page.locator('.log').getByText('lint ok', { exact: true }).waitFor();
      expect(await sidebar.locator('[aria-current="page"]').getAttribute('data-sidebar-job')).toBe(
        'lint',
      );
      expect(new URL(page.url()).hash).toBe('');

      await sidebar.locator('[data-sidebar-job="build"]').click();
      await page.locator('.log .line.target').getByText(FAILURE_LINE, { exact: true }).waitFor();
      expect(new URL(page.url()).hash).toMatch(/^#L\d+$/);

      // `/` goes to the log search, as on GitHub.
      await page.locator('h1').click();
      await page.keyboard.press('/');
      expect(await page.evaluate('document.activeElement.getAttribute("aria-label")')).toBe(
        'Search the log',
      );
    });

    it('keeps attempt 1 reachable after the failed jobs are rerun', async () => {
      await page.locator('.crumbs').getByRole('link', { name: 'run #1' }).click();
      await page.getByRole('button', { name: 'Rerun failed jobs' }).click();
      await stack.waitForRun(
        run.id,
        (now) =>
          now.jobs.find((job) => job.key === 'build')?.attempt === 2 && now.state === 'failure',
      );
      await page.locator('tr[data-job="build"]').getByRole('link', { name: 'build' }).click();
      const log = page.locator('.log');
      await log.getByText('preparing attempt 2', { exact: true }).waitFor();
      const picker = page.getByLabel('Attempt');
      expect(await picker.inputValue()).toBe('2');
      // Each attempt says how it went.
      await picker
        .locator('option[value="2"][data-state="failure"]')
        .waitFor({ state: 'attached' });
      expect(await picker.locator('option').allTextContents()).toEqual([
        '2 (latest) · failure',
        '1 · failure',
      ]);
      await picker.selectOption('1');
      await log.getByText('preparing attempt 1', { exact: true }).waitFor();
      expect(new URL(page.url()).searchParams.get('attempt')).toBe('1');
      expect(await page.getByRole('link', { name: 'Raw log' }).getAttribute('href')).toBe(
        `/api/v1/jobs/${build.id}/log?attempt=1`,
      );
      // Attempt 1 opens at its own failing step too.
      await page.locator('.log .line.target').getByText(FAILURE_LINE, { exact: true }).waitFor();
      expect(web.dialogs).toEqual([]);
    });
  },
);
