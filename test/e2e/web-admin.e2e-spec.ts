import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { browserTestsRunnable, SCREENSHOTS } from './support/browser';
import { webhookHeaders } from './support/forge';
import { printProcessesOnFailure } from './support/on-failure';
import type { PipelineStack } from './support/pipeline-stack';
import { WebStack } from './support/web-stack';

const ADMIN_PASSWORD = 'e2e-web-admin-ui-password';
const SECRET_VALUE = 'npm-secret-value-4242';

// The job prints its secret: the log must show it masked.
const PIPELINE = `
jobs:
  build:
    secrets: [NPM_TOKEN]
    steps:
      - name: publish
        run: echo "publishing with $NPM_TOKEN"
`;

/** GitHub's ping, signed with `secret`, to `url`: the status it answers. */
async function ping(url: string, secret: string): Promise<number> {
  const raw = Buffer.from(JSON.stringify({ zen: 'Design for failure.', hook_id: 1 }));
  const res = await fetch(url, {
    method: 'POST',
    headers: webhookHeaders('github', 'ping', raw, secret),
    body: raw,
  });
  return res.status;
}

describe.skipIf(!browserTestsRunnable)(
  'web UI in Chromium: an administrator from an empty installation to a green run',
  () => {
    beforeEach(printProcessesOnFailure);
    let web: WebStack;
    let stack: PipelineStack;
    let page: Page;
    let repositoryUrl: string;

    beforeAll(async () => {
      web = await WebStack.start('admin', { adminPassword: ADMIN_PASSWORD, register: false });
      stack = web.stack;
      page = await web.newPage();
      await page
        .context()
        .grantPermissions(['clipboard-read', 'clipboard-write'], { origin: stack.serverUrl });
      await web.signIn(page, 'admin', ADMIN_PASSWORD);
    });

    afterAll(() => web?.dispose());

    // Evaluated in the page, as text: the tests are compiled without the DOM's types.
    const clipboard = async (): Promise<string> =>
      String(await page.evaluate('navigator.clipboard.readText()'));

    it('registers a repository and shows its webhook settings once, with copy buttons', async () => {
      await page.getByText('No repositories yet: register one').waitFor();
      await page.getByRole('link', { name: 'Register repository' }).click();
      await page.getByRole('heading', { name: 'Register a repository' }).waitFor();
      expect(await page.title()).toBe('Register a repository · Kiln');
      await page.getByLabel('Forge', { exact: true }).selectOption('github');
      await page.getByLabel('Name').fill('acme/admin');
      await page.getByLabel('Clone URL').fill(web.cloneUrl);
      await page.getByLabel('Forge API URL').fill(web.forgeUrl);
      await page.getByRole('button', { name: 'Register' }).click();
      await page.getByRole('heading', { name: 'acme/admin is registered' }).waitFor();
      await page.getByText('Settings → Webhooks → Add webhook').waitFor();
      await page.screenshot({ path: join(SCREENSHOTS, 'register-repository.png') });

      await page.getByRole('button', { name: 'Copy URL' }).click();
      await page.getByRole('button', { name: 'Copied' }).waitFor();
      const url = await clipboard();
      expect(url).toMatch(new RegExp(`^${stack.serverUrl}/hooks/github/[0-9a-f-]{36}$`));
      await page.getByRole('button', { name: 'Copy secret' }).click();
      const secret = await clipboard();
      expect(secret).toBe(await page.locator('code[data-webhook-secret]').textContent());
      // What was copied is what the forge needs: its signed ping gets through.
      expect(await ping(url, secret)).toBe(200);
      expect(await ping(url, `${secret}x`)).toBe(401);

      await page.getByRole('link', { name: 'Go to acme/admin' }).click();
      await page.getByText('No runs yet').waitFor();
      expect(await page.title()).toBe('acme/admin · Kiln');
      repositoryUrl = page.url();
      // Shown once: the repository's settings show the URL but never the secret.
      await page.getByRole('link', { name: 'Settings' }).click();
      await page.getByRole('heading', { name: 'Webhook' }).waitFor();
      expect(await page.title()).toBe('Settings · acme/admin · Kiln');
      expect(await page.locator('code[data-webhook-url]').textContent()).toBe(url);
      expect(await page.locator('code[data-webhook-secret]').count()).toBe(0);
      expect(await page.content()).not.toContain(secret);

      // A new secret replaces the old one, after a confirmation.
      await page.getByRole('button', { name: 'Rotate secret…' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Rotate' }).click();
      const rotated = page.locator('code[data-webhook-secret]');
      await rotated.waitFor();
      const newSecret = (await rotated.textContent()) ?? '';
      expect(newSecret).not.toBe(secret);
      expect(await ping(url, secret)).toBe(401);
      expect(await ping(url, newSecret)).toBe(200);
      // Focus goes back to the button that opened the dialog.
      expect(await page.evaluate('document.activeElement.textContent')).toBe('Rotate secret…');
    });

    it('sets the forge token (write-only) and the default branch', async () => {
      await page.locator('[data-forge-token="unset"]').waitFor();
      await page.getByLabel('Token', { exact: true }).fill('forge-token-123');
      await page.getByRole('button', { name: 'Set token' }).click();
      await page.locator('[data-forge-token="set"]').waitFor();
      expect(await page.content()).not.toContain('forge-token-123');
      await page.getByRole('button', { name: 'Remove token' }).waitFor();

      const repo = await stack.ok<{ hasForgeToken: boolean; apiUrl: string }>(
        'GET',
        `/api/v1/repositories/${repositoryUrl.split('/').at(-1) ?? ''}`,
      );
      expect(repo).toMatchObject({ hasForgeToken: true, apiUrl: web.forgeUrl });
    });

    it('creates a user and gives them a role on the repository', async () => {
      await page.locator('.topbar nav').getByRole('link', { name: 'Users' }).click();
      await page.getByRole('heading', { name: 'Users' }).waitFor();
      await page.getByLabel('Username').fill('dana');
      await page.getByLabel('Password').fill('dana-developer-password');
      await page.getByRole('button', { name: 'Create user' }).click();
      await page.getByText('dana can sign in now.').waitFor();
      await page.locator('tr[data-user="dana"]').waitFor();
      await page.screenshot({ path: join(SCREENSHOTS, 'users.png') });

      await page.locator('.topbar nav').getByRole('link', { name: 'Repositories' }).click();
      await page.getByRole('link', { name: 'acme/admin' }).click();
      await page.getByRole('link', { name: 'Settings' }).click();
      await page.getByLabel('User', { exact: true }).selectOption({ label: 'dana' });
      await page.getByLabel('Role', { exact: true }).selectOption('developer');
      await page.getByRole('button', { name: 'Add member' }).click();
      const member = page.locator('tr[data-member="dana"]');
      await member.waitFor();
      expect(await member.getByLabel('Role of dana').inputValue()).toBe('developer');
    });

    it('adds a secret whose value never shows again, and a schedule', async () => {
      await page.getByLabel('Name', { exact: true }).first().waitFor();
      const secrets = page.getByRole('group', { name: 'Secrets' });
      await secrets.getByLabel('Name', { exact: true }).fill('NPM_TOKEN');
      await secrets.getByLabel('Value').fill(SECRET_VALUE);
      await secrets.getByRole('button', { name: 'Save secret' }).click();
      const row = secrets.locator('tr[data-secret="NPM_TOKEN"]');
      await row.waitFor();
      expect(await row.locator('td').nth(1).textContent()).toBe('every job that lists it');
      expect(await secrets.getByLabel('Value').inputValue()).toBe('');
      expect(await page.content()).not.toContain(SECRET_VALUE);

      const schedules = page.getByRole('group', { name: 'Schedules' });
      await schedules.getByLabel('Name').fill('nightly');
      await schedules.getByLabel('Cron (UTC)').fill('0 3 * * *');
      await schedules.getByRole('button', { name: 'Add schedule' }).click();
      await schedules.locator('tr[data-schedule="nightly"]').waitFor();
      await page.screenshot({ path: join(SCREENSHOTS, 'repository-settings.png'), fullPage: true });
    });

    it('starts a run from the repository page and watches it go green', async () => {
      web.commit({ '.kiln.yml': PIPELINE }, 'Publish the package');
      await page.locator('.crumbs').getByRole('link', { name: 'acme/admin' }).click();
      await page.getByRole('button', { name: 'Run pipeline' }).click();
      const dialog = page.getByRole('dialog', { name: 'Run pipeline' });
      expect(await dialog.getByLabel('Branch').inputValue()).toBe('main');
      await dialog.getByRole('button', { name: 'Run', exact: true }).click();
      await page.waitForURL(/\/runs\/[0-9a-f-]{36}$/);
      await page.getByRole('heading', { name: /Run #1/ }).waitFor();
      await page.locator('h1 .state').getByText('success').waitFor({ timeout: 60_000 });
      const runId = page.url().split('/').at(-1) ?? '';
      const run = await stack.run(runId);
      expect(run).toMatchObject({ state: 'success', number: 1 });

      await page.getByRole('link', { name: 'build', exact: true }).click();
      const log = page.locator('.log');
      await log.getByText('publishing with ***', { exact: true }).waitFor();
      expect(await page.content()).not.toContain(SECRET_VALUE);
      expect(web.dialogs).toEqual([]);
    });

    it('shows the new developer his repository, Run pipeline, and no inbox he cannot act on', async () => {
      const context = await web.browser.newContext({ viewport: { width: 1280, height: 800 } });
      try {
        const dana = await context.newPage();
        await web.signIn(dana, 'dana', 'dana-developer-password');
        await dana.getByRole('link', { name: 'acme/admin' }).click();
        await dana.locator('tr[data-run="1"]').waitFor();
        await dana.getByRole('button', { name: 'Run pipeline' }).waitFor();
        const nav = dana.locator('.topbar nav');
        await nav.getByRole('link', { name: 'Tokens', exact: true }).waitFor();
        for (const name of ['Approvals', 'Users', 'Audit']) {
          expect(await nav.getByRole('link', { name, exact: true }).count(), name).toBe(0);
        }
        // Settings: what a developer may see and do; none of the administrator's sections.
        await dana.getByRole('link', { name: 'Settings' }).click();
        await dana.getByRole('group', { name: 'Schedules' }).waitFor();
        await dana.locator('tr[data-secret="NPM_TOKEN"]').waitFor();
        expect(await dana.getByRole('button', { name: 'Save secret' }).count()).toBe(0);
        expect(await dana.getByRole('heading', { name: 'Webhook' }).count()).toBe(0);
        expect(await dana.getByRole('button', { name: /^Remove acme/ }).count()).toBe(0);
      } finally {
        await context.close();
      }
    });

    it('disables a user, who can no longer sign in, and enables them again', async () => {
      await page.goto(`${stack.serverUrl}/users`);
      const dana = page.locator('tr[data-user="dana"]');
      await dana.getByRole('button', { name: 'Disable' }).click();
      await dana.getByText('disabled', { exact: true }).waitFor();
      const signIn = (): Promise<number> =>
        fetch(`${stack.serverUrl}/api/v1/session`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: 'dana', password: 'dana-developer-password' }),
        }).then((res) => res.status);
      expect(await signIn()).toBe(403);
      // Nobody disables himself: the administrator's own row offers no button.
      expect(await page.locator('tr[data-user="admin"] button').count()).toBe(0);

      await dana.getByRole('button', { name: 'Enable' }).click();
      await dana.getByText('active', { exact: true }).waitFor();
      expect(await signIn()).toBe(200);
    });

    it('removes the repository after a confirmation', async () => {
      await page.goto(`${repositoryUrl}/settings`);
      await page.getByRole('button', { name: 'Remove acme/admin…' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Remove', exact: true }).click();
      await page.getByRole('heading', { name: 'Repositories' }).waitFor();
      await page.getByText('No repositories yet: register one').waitFor();
    });

    it('answers Not found for an address that names no repository', async () => {
      await page.goto(`${stack.serverUrl}/repositories/not-an-id`);
      await page.getByRole('heading', { name: 'Not found' }).waitFor();
      expect(await page.content()).not.toContain('must be a UUID');
    });
  },
);
