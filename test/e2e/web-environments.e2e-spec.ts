import { freePort } from '@kiln/queue/testing';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { browserTestsRunnable, launchChromium, signIn } from './support/browser';
import { FakeForge } from './support/forge';
import { GitDaemon } from './support/git-daemon';
import { printProcessesOnFailure } from './support/on-failure';
import { PipelineStack } from './support/pipeline-stack';

const ADMIN_PASSWORD = 'e2e-web-environments-admin-password';

const CYCLE = 'previous: production comes after staging already; environments cannot form a cycle';

interface Environment {
  name: string;
  previous?: string;
  requiredApprovals: number;
  allowedBranches?: string[];
  approvalTimeoutMinutes: number;
}

describe.skipIf(!browserTestsRunnable)(
  'web UI in Chromium: an admin defines the environments from the board',
  () => {
    beforeEach(printProcessesOnFailure);
    let stack: PipelineStack;
    let git: GitDaemon;
    let forge: FakeForge;
    let browser: Browser;
    let page: Page;
    const dialogs: string[] = [];
    let repo: { id: string };

    beforeAll(async () => {
      git = await GitDaemon.start(await freePort());
      forge = await FakeForge.start();
      stack = await PipelineStack.start({ serverEnv: { KILN_ADMIN_PASSWORD: ADMIN_PASSWORD } });
      git.createRepository('shop');
      // No run is needed: environments belong to the repository.
      repo = await stack.ok('POST', '/api/v1/repositories', {
        forge: 'github',
        fullName: 'acme/shop',
        cloneUrl: git.url('shop'),
        forgeToken: 'forge-token',
        apiUrl: forge.url,
      });

      browser = await launchChromium();
      page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
      // The app asks in its own dialogs: a native one would be a bug.
      page.on('dialog', (dialog) => {
        dialogs.push(dialog.message());
        void dialog.dismiss();
      });
    });

    afterAll(async () => {
      await browser?.close();
      await Promise.all([stack?.dispose(), git?.stop(), forge?.stop()]);
    });

    function environment(name: string): Locator {
      return page.locator(`[data-environment="${name}"]`);
    }

    /** The environments the board shows, in page order. */
    async function shown(): Promise<(string | null)[]> {
      const cards = await page.locator('[data-environment]').all();
      return Promise.all(cards.map((card) => card.getAttribute('data-environment')));
    }

    /** The environments as the API has them, in chain order. */
    async function saved(): Promise<Environment[]> {
      const board = await stack.ok<{ environment: Environment }[]>(
        'GET',
        `/api/v1/repositories/${repo.id}/environments`,
      );
      return board.map((entry) => entry.environment);
    }

    /** Opens the add dialog, fills it as given (unset: left as it comes) and saves. */
    async function add(
      name: string,
      fields: { after?: string; approvals?: string; branches?: string } = {},
    ): Promise<Locator> {
      await page.getByRole('button', { name: 'Add environment' }).click();
      const dialog = page.getByRole('dialog');
      await dialog.getByRole('heading', { name: 'Add environment' }).waitFor();
      await dialog.getByLabel('Name', { exact: true }).fill(name);
      if (fields.after !== undefined) {
        await dialog.getByLabel('After', { exact: true }).selectOption(fields.after);
      }
      if (fields.approvals !== undefined) {
        await dialog.getByLabel('Required approvals', { exact: true }).fill(fields.approvals);
      }
      if (fields.branches !== undefined) {
        await dialog.getByLabel('Allowed branches', { exact: true }).fill(fields.branches);
      }
      await dialog.getByRole('button', { name: 'Save' }).click();
      return dialog;
    }

    it('offers an empty board its first environment, then a second after it', async () => {
      await signIn(page, stack.serverUrl, 'admin', ADMIN_PASSWORD);
      // In-app navigation: a reload would drop the CSRF token the app keeps in memory.
      await page.getByRole('link', { name: 'acme/shop' }).click();
      await page.getByRole('link', { name: 'Environments' }).click();
      await page.getByRole('heading', { name: 'Environments' }).waitFor();
      await page.getByText('No environments yet').waitFor();

      const first = await add('staging');
      await first.waitFor({ state: 'detached' });
      await environment('staging')
        .getByText('first in the chain · no approval needed · any branch')
        .waitFor();

      const second = await add('production', {
        after: 'staging',
        approvals: '2',
        branches: 'main, release/*',
      });
      await second.waitFor({ state: 'detached' });
      await environment('production')
        .getByText('after staging · 2 approvals needed, within 24 h · branches main, release/*')
        .waitFor();
      expect(await shown()).toEqual(['staging', 'production']);

      expect(await saved()).toMatchObject([
        { name: 'staging', requiredApprovals: 0, approvalTimeoutMinutes: 1440 },
        {
          name: 'production',
          previous: 'staging',
          requiredApprovals: 2,
          allowedBranches: ['main', 'release/*'],
          approvalTimeoutMinutes: 1440,
        },
      ]);
      const [staging] = await saved();
      expect(staging?.previous).toBeUndefined();
      expect(staging?.allowedBranches).toBeUndefined();
    });

    it('refuses to add a name in use rather than change that environment', async () => {
      const dialog = await add('staging', { approvals: '3' });
      await dialog
        .getByRole('alert')
        .getByText('staging exists already: edit it instead')
        .waitFor();
      await dialog.getByRole('button', { name: 'Back' }).click();
      await dialog.waitFor({ state: 'detached' });
      expect((await saved())[0]?.requiredApprovals).toBe(0);
    });

    it('edits the policy of an environment, the form starting from what it is', async () => {
      await environment('production').getByRole('button', { name: 'Edit' }).click();
      const dialog = page.getByRole('dialog');
      await dialog.getByRole('heading', { name: 'Edit production' }).waitFor();
      expect(await dialog.getByLabel('Name', { exact: true }).count()).toBe(0);
      expect(await dialog.getByLabel('After', { exact: true }).inputValue()).toBe('staging');
      const approvals = dialog.getByLabel('Required approvals', { exact: true });
      expect(await approvals.inputValue()).toBe('2');
      expect(await dialog.getByLabel('Allowed branches', { exact: true }).inputValue()).toBe(
        'main, release/*',
      );
      expect(
        await dialog.getByLabel('Approval timeout (minutes)', { exact: true }).inputValue(),
      ).toBe('1440');

      await approvals.fill('1');
      await dialog.getByRole('button', { name: 'Save' }).click();
      await dialog.waitFor({ state: 'detached' });
      await environment('production')
        .getByText('after staging · 1 approval needed, within 24 h · branches main, release/*')
        .waitFor();
      expect((await saved())[1]).toMatchObject({
        name: 'production',
        previous: 'staging',
        requiredApprovals: 1,
        allowedBranches: ['main', 'release/*'],
      });
    });

    it("shows the server's refusal of a cycle in the dialog, and changes nothing", async () => {
      await environment('staging').getByRole('button', { name: 'Edit' }).click();
      const dialog = page.getByRole('dialog');
      await dialog.getByRole('heading', { name: 'Edit staging' }).waitFor();
      const after = dialog.getByLabel('After', { exact: true });
      // Every other environment is offered; the server, which knows the chain, says no.
      expect(await after.locator('option').allTextContents()).toEqual([
        'none: first in the chain',
        'production',
      ]);
      await after.selectOption('production');
      await dialog.getByRole('button', { name: 'Save' }).click();
      await dialog.getByRole('alert').getByText(CYCLE).waitFor();
      // Still open, as filled, to fix or leave.
      expect(await after.inputValue()).toBe('production');
      await dialog.getByRole('button', { name: 'Back' }).click();
      await dialog.waitFor({ state: 'detached' });

      expect(await shown()).toEqual(['staging', 'production']);
      expect((await saved())[0]?.previous).toBeUndefined();
    });

    it('deletes an environment once confirmed; one another follows is refused', async () => {
      await environment('staging').getByRole('button', { name: 'Delete' }).click();
      let dialog = page.getByRole('dialog');
      await dialog.getByRole('heading', { name: 'Delete staging?' }).waitFor();
      await dialog.getByRole('button', { name: 'Delete' }).click();
      await dialog
        .getByRole('alert')
        .getByText('production follows staging: change or delete production first')
        .waitFor();
      await dialog.getByRole('button', { name: 'Back' }).click();
      await dialog.waitFor({ state: 'detached' });

      await environment('production').getByRole('button', { name: 'Delete' }).click();
      dialog = page.getByRole('dialog');
      await dialog.getByRole('heading', { name: 'Delete production?' }).waitFor();
      await dialog.getByRole('button', { name: 'Delete' }).click();
      await dialog.waitFor({ state: 'detached' });
      await environment('production').waitFor({ state: 'detached' });
      expect(await shown()).toEqual(['staging']);

      expect((await saved()).map((e) => e.name)).toEqual(['staging']);
      expect(dialogs).toEqual([]);
    });
  },
);
