import type { Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { browserTestsRunnable } from './support/browser';
import { printProcessesOnFailure } from './support/on-failure';
import type { PipelineStack, RunView } from './support/pipeline-stack';
import { WebStack } from './support/web-stack';

const ADMIN_PASSWORD = 'e2e-web-small-admin-password';
const PHONE = { width: 390, height: 844 };

// Long names and a long line: what pushes a page sideways if anything does.
const PIPELINE = `
jobs:
  build-the-application-with-a-long-name:
    steps:
      - name: a-step-with-a-rather-long-name-too
        run: echo "${'x'.repeat(300)}"
  test:
    needs: build-the-application-with-a-long-name
    steps:
      - run: echo tested; exit 1
`;

describe.skipIf(!browserTestsRunnable)('web UI in Chromium at 390×844', () => {
  beforeEach(printProcessesOnFailure);
  let web: WebStack;
  let stack: PipelineStack;
  let page: Page;
  let run: RunView;

  beforeAll(async () => {
    web = await WebStack.start('small-screens-with-a-long-repository-name', {
      adminPassword: ADMIN_PASSWORD,
    });
    stack = web.stack;
    await stack.ok('PUT', `/api/v1/repositories/${web.repo.id}/environments/staging`, {});
    const runId = await web.push(
      { '.kiln.yml': PIPELINE },
      'A commit message long enough to be cut somewhere on a phone screen, or so one hopes',
    );
    run = await stack.waitForRun(runId);
    page = await web.newPage(PHONE);
    await web.signIn(page, 'admin', ADMIN_PASSWORD);
  });

  afterAll(() => web?.dispose());

  /** How much wider than the viewport the page is: 0 when nothing scrolls sideways. */
  async function overflow(path: string, ready: string): Promise<number> {
    await page.goto(`${stack.serverUrl}${path}`);
    await page.locator(ready).first().waitFor();
    return Number(
      await page.evaluate(
        'document.documentElement.scrollWidth - document.documentElement.clientWidth',
      ),
    );
  }

  it('scrolls no page sideways', async () => {
    const repo = `/repositories/${web.repo.id}`;
    const build = run.jobs[0]?.id ?? '';
    const pages: [string, string][] = [
      ['/', '.repositories li'],
      ['/repositories/new', 'form.stacked'],
      [repo, 'tr[data-run="1"]'],
      [`${repo}/settings`, '.panel'],
      [`${repo}/environments`, '.environment'],
      [`${repo}/environments/staging`, 'h1'],
      [`/runs/${run.id}`, '[data-failed-job="test"] .excerpt'],
      [`/runs/${run.id}/jobs/${build}`, '.log .line'],
      ['/queue', 'h1'],
      ['/cluster', 'tr[data-agent]'],
      ['/tokens', 'h1'],
      ['/approvals', 'h1'],
      ['/audit', 'h1'],
      ['/users', 'tr[data-user]'],
    ];
    const wide: Record<string, number> = {};
    for (const [path, ready] of pages) {
      const extra = await overflow(path, ready);
      if (extra > 0) wide[path] = extra;
    }
    expect(wide).toEqual({});
  });

  it('reaches every navigation link and Sign out from a menu', async () => {
    await page.goto(`${stack.serverUrl}/`);
    const menu = page.getByRole('button', { name: 'Menu' });
    await menu.click();
    expect(await menu.getAttribute('aria-expanded')).toBe('true');
    const nav = page.locator('.topbar nav');
    for (const name of [
      'Repositories',
      'Queue',
      'Cluster',
      'Tokens',
      'Approvals',
      'Users',
      'Audit',
    ]) {
      expect(await nav.getByRole('link', { name, exact: true }).isVisible(), name).toBe(true);
    }
    expect(await page.getByRole('button', { name: 'Sign out' }).isVisible()).toBe(true);
    await nav.getByRole('link', { name: 'Audit', exact: true }).click();
    await page.getByRole('heading', { name: 'Audit' }).waitFor();
    // Following a link closes the menu.
    expect(await menu.getAttribute('aria-expanded')).toBe('false');
    expect(await nav.getByRole('link', { name: 'Audit', exact: true }).isVisible()).toBe(false);
  });
});
