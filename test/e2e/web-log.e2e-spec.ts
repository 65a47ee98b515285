import type { Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { browserTestsRunnable } from './support/browser';
import { printProcessesOnFailure } from './support/on-failure';
import type { PipelineStack } from './support/pipeline-stack';
import { WebStack } from './support/web-stack';

const ADMIN_PASSWORD = 'e2e-web-log-admin-password';
const LINES = 200_000;
const PIPELINE = `
jobs:
  numbers:
    steps:
      - name: count
        run: seq 1 ${LINES}
`;

describe.skipIf(!browserTestsRunnable)('log view in Chromium: a 200,000-line log, virtual', () => {
  beforeEach(printProcessesOnFailure);
  let web: WebStack;
  let stack: PipelineStack;
  let page: Page;
  let logPath: string;

  beforeAll(async () => {
    web = await WebStack.start('numbers', { adminPassword: ADMIN_PASSWORD });
    stack = web.stack;
    page = await web.newPage();

    const runId = await web.push({ '.kiln.yml': PIPELINE }, 'Count');
    const run = await stack.waitForRun(runId);
    expect(run.state).toBe('success');
    logPath = `/runs/${runId}/jobs/${run.jobs[0]?.id ?? ''}`;

    await web.signIn(page, 'admin', ADMIN_PASSWORD);
  });

  afterAll(() => web?.dispose());

  it('follows to the last line, with far fewer than 1,000 lines in the DOM', async () => {
    await page.goto(`${stack.serverUrl}${logPath}`);
    const last = page.locator(`#L${LINES}`);
    await last.waitFor({ timeout: 30_000 });
    expect(await last.locator('.text').textContent()).toBe(String(LINES));
    expect(await page.getByRole('checkbox', { name: 'Follow' }).isChecked()).toBe(true);
    await expectInView(page, `#L${LINES}`);
    const inDom = await page.locator('.log .line').count();
    expect(inDom).toBeGreaterThan(10);
    expect(inDom).toBeLessThan(200);
  });

  it('searches case-insensitively across all lines and jumps to a match', async () => {
    await page.getByLabel('Search the log').fill('199999');
    await page.locator('.log-search-count').getByText('1 of 1').waitFor();
    const line = page.locator('#L199999');
    await line.locator('mark.hit.current').getByText('199999').waitFor();
    await expectInView(page, '#L199999');
    expect(await page.getByRole('checkbox', { name: 'Follow' }).isChecked()).toBe(false);

    // "1999" occurs 140 times in 1 … 200000 (`seq 1 200000 | grep -o 1999 | wc -l`), last in 199999.
    await page.getByLabel('Search the log').fill('1999');
    await page.locator('.log-search-count').getByText('1 of 140').waitFor();
    await page.getByRole('button', { name: 'Previous match' }).click();
    await page.locator('.log-search-count').getByText('140 of 140').waitFor();
    await page.locator('#L199999 mark.hit.current').waitFor();
    expect(await page.locator('.log .line').count()).toBeLessThan(200);
  });

  it('opens a #L150000 link at that line, highlighted', async () => {
    await page.goto(`${stack.serverUrl}${logPath}#L150000`);
    const line = page.locator('#L150000.target');
    await line.waitFor({ timeout: 30_000 });
    expect(await line.locator('.text').textContent()).toBe('150000');
    await expectInView(page, '#L150000');
    expect(await page.getByRole('checkbox', { name: 'Follow' }).isChecked()).toBe(false);
    expect(await line.locator('a.ln').getAttribute('href')).toBe('#L150000');
  });
});

/** The element is inside the log's scroll box, not only in the DOM. */
async function expectInView(page: Page, selector: string): Promise<void> {
  const box = await page.locator('.log-scroll').boundingBox();
  const element = await page.locator(selector).boundingBox();
  expect(box).not.toBeNull();
  expect(element).not.toBeNull();
  if (box === null || element === null) return;
  expect(element.y).toBeGreaterThanOrEqual(box.y);
  expect(element.y + element.height).toBeLessThanOrEqual(box.y + box.height + 1);
}
