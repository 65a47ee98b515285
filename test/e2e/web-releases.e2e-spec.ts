import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { browserTestsRunnable, SCREENSHOTS } from './support/browser';
import { printProcessesOnFailure } from './support/on-failure';
import type { PipelineStack } from './support/pipeline-stack';
import { releasePipeline } from './support/release-pipeline';
import { WebStack } from './support/web-stack';

// releases.e2e-spec.ts's pipeline, without the link to /etc/passwd its build tries to keep.
const PIPELINE = releasePipeline();

// A build that passes and a staging deploy that fails.
const FAILING_DEPLOY_PIPELINE = `
jobs:
  build:
    steps:
      - run: mkdir -p dist && echo app > dist/app.txt
    artifacts: [dist/**]
  deploy-staging:
    needs: [build]
    when: { event: promote, environment: staging }
    steps:
      - run: echo "deploy fails"; exit 1
`;

const RELEASE_MANAGERS = { rita: 'rita-release-password', rob: 'rob-release-password' };

// Deploys are whole runs on the agent; the board follows them live.
const DEPLOYED_WITHIN_MS = 45_000;

interface Promotion {
  id: string;
  state: string;
  environment: string;
  requestedBy: string;
  comment?: string;
  run: { id: string; number: number };
  deployRun?: { id: string; number: number; state: string };
  approvals: { user: string; decision: string; comment?: string }[];
}

describe.skipIf(!browserTestsRunnable)(
  'web UI in Chromium: promote a run through the environments, approved by a second user',
  () => {
    beforeEach(printProcessesOnFailure);
    let web: WebStack;
    let stack: PipelineStack;
    /** rita, release manager: promotes. */
    let page: Page;
    /** rob, release manager: approves, in a browser context of his own. */
    let robPage: Page;
    let runId: string;
    let stagingId: string;
    let productionId: string;

    beforeAll(async () => {
      web = await WebStack.start('shop');
      stack = web.stack;
      const { repo } = web;
      await stack.ok('PUT', `/api/v1/repositories/${repo.id}/environments/staging`, {});
      await stack.ok('PUT', `/api/v1/repositories/${repo.id}/environments/production`, {
        previous: 'staging',
        requiredApprovals: 1,
      });
      for (const [username, password] of Object.entries(RELEASE_MANAGERS)) {
        await web.addMember(username, password, 'release-manager');
      }

      // Run #1 is the one promoted; run #2, newer, waits on the board as next for staging.
      runId = await push({ '.kiln.yml': PIPELINE }, 'Add the release pipeline');
      await push({ 'CHANGES.md': 'Faster checkout\n' }, 'Make the checkout faster');

      page = await web.newPage();
      robPage = await web.newPage();
    });

    afterAll(() => web?.dispose());

    /** Pushes a commit to main and waits for its run to pass; the run's id. */
    async function push(files: Record<string, string>, message: string): Promise<string> {
      const run = await stack.waitForRun(await web.push(files, message));
      expect(run.state, JSON.stringify(run.jobs)).toBe('success');
      return run.id;
    }

    function environment(name: string): Locator {
      return page.locator(`[data-environment="${name}"]`);
    }

    /** The card of run #1 in an environment's section (`current`, `pending`), in a state. */
    function card(name: string, section: 'current' | 'pending', state: string): Locator {
      return environment(name).locator(
        `[data-${section}] .promotion[data-run="1"][data-state="${state}"]`,
      );
    }

    /** The attribute `name` of each element `locator` finds, in page order. */
    async function attributes(locator: Locator, name: string): Promise<(string | null)[]> {
      return Promise.all((await locator.all()).map((element) => element.getAttribute(name)));
    }

    function promotion(id: string): Promise<Promotion> {
      return stack.ok<Promotion>('GET', `/api/v1/promotions/${id}`);
    }

    it('promotes a passing run to staging from the environments board', async () => {
      await web.signIn(page, 'rita', RELEASE_MANAGERS.rita);
      await page.getByRole('link', { name: 'acme/shop' }).click();
      await page.getByRole('link', { name: 'Environments' }).click();
      await page.getByRole('heading', { name: 'Environments' }).waitFor();
      await environment('staging').waitFor();
      // In chain order.
      expect(await attributes(page.locator('[data-environment]'), 'data-environment')).toEqual([
        'staging',
        'production',
      ]);
      await environment('production').getByText('after staging · 1 approval needed').waitFor();
      await environment('production').getByText('No run can be promoted here now.').waitFor();

      const promotable = environment('staging').locator('[data-promotable] [data-run]');
      await promotable.first().waitFor();
      expect(await attributes(promotable, 'data-run')).toEqual(['2', '1']);
      await environment('staging')
        .locator('[data-promotable] [data-run="1"]')
        .getByRole('button', { name: 'Promote' })
        .click();
      const dialog = page.getByRole('dialog');
      await dialog.getByRole('heading', { name: 'Promote run #1 to staging?' }).waitFor();
      await dialog.getByLabel('Comment (optional)').fill('first cut of the shop');
      await dialog.getByRole('button', { name: 'Confirm' }).click();
      await dialog.waitFor({ state: 'detached' });

      const deployed = card('staging', 'current', 'deployed');
      await deployed.waitFor({ timeout: DEPLOYED_WITHIN_MS });
      stagingId = (await deployed.getAttribute('data-promotion')) ?? '';
      await deployed.getByText('Add the release pipeline').waitFor();
      await deployed.getByText('promoted by rita').waitFor();
      await deployed.getByRole('button', { name: 'Copy commit SHA' }).waitFor();
      await deployed.getByText('“first cut of the shop”').waitFor();
      await deployed.getByRole('link', { name: /^deploy run #\d+$/ }).waitFor();
      // Run #1 may go to production now; #2 is still the next for staging.
      await environment('production').locator('[data-promotable] [data-run="1"]').waitFor();
      await environment('staging').locator('[data-promotable] [data-run="2"]').waitFor();
      expect(await environment('staging').locator('[data-promotable] [data-run="1"]').count()).toBe(
        0,
      );

      const staged = await promotion(stagingId);
      expect(staged).toMatchObject({
        state: 'deployed',
        environment: 'staging',
        requestedBy: 'rita',
        comment: 'first cut of the shop',
        run: { id: runId, number: 1 },
        approvals: [],
      });
      expect(staged.deployRun?.state).toBe('success');

      // The deploy run's graph: deploy-staging after the build the promoted run made, and
      // deploy-production (skipped) after it too, not all stacked in one column.
      await deployed.getByRole('link', { name: /^deploy run #\d+$/ }).click();
      const graph = page.locator('.job-graph');
      await graph.locator('[data-node="deploy-staging"]').getByText('success').waitFor();
      const edges = await attributes(graph.locator('path[data-edge]'), 'data-edge');
      expect(edges.sort()).toEqual(['build->deploy-production', 'build->deploy-staging']);
      const box = async (key: string) => graph.locator(`[data-node="${key}"]`).boundingBox();
      const [build, deploy] = await Promise.all([box('build'), box('deploy-staging')]);
      expect(deploy?.x ?? 0).toBeGreaterThan((build?.x ?? 0) + (build?.width ?? 0));
      await page.goBack();
      await environment('staging').waitFor();
    });

    it('shows the environments a run may not go to yet disabled, with the policy’s reason', async () => {
      // Run #2 has not been deployed to staging: production is shown, not offered.
      await environment('staging')
        .locator('[data-promotable] [data-run="2"]')
        .getByRole('link', { name: '#2', exact: true })
        .click();
      await page.getByRole('heading', { name: /Run #2/ }).waitFor();
      await page.getByRole('button', { name: 'Promote…' }).click();
      const dialog = page.getByRole('dialog');
      await dialog.getByRole('heading', { name: 'Promote run #2?' }).waitFor();
      const options = dialog.getByLabel('Environment').locator('option');
      expect(await options.allTextContents()).toEqual(['staging', 'production (not yet)']);
      expect(await options.nth(1).isDisabled()).toBe(true);
      await dialog
        .locator('[data-refused="production"]')
        .getByText('run #2 has not been deployed to staging: promote it to staging first')
        .waitFor();
      await dialog.getByRole('button', { name: 'Back' }).click();
      await dialog.waitFor({ state: 'detached' });
      // The board answers for runs of its own repository only.
      const elsewhere = await stack.api(
        'GET',
        `/api/v1/repositories/${web.repo.id}/environments?run=00000000-0000-4000-8000-000000000000`,
      );
      expect(elsewhere.status).toBe(404);
      await page.goBack();
      await environment('staging').waitFor();
    });

    it('asks for production from the run page; the requester is offered no Approve', async () => {
      // In-app navigation: a reload would drop the CSRF token the app keeps in memory.
      await card('staging', 'current', 'deployed')
        .getByRole('link', { name: '#1', exact: true })
        .click();
      await page.getByRole('heading', { name: /Run #1/ }).waitFor();
      // The commit's SHA and the run's id copy whole.
      await page
        .context()
        .grantPermissions(['clipboard-read', 'clipboard-write'], { origin: stack.serverUrl });
      // Evaluated in the page, as text: the tests are compiled without the DOM's types.
      const clipboard = async (): Promise<string> =>
        String(await page.evaluate('navigator.clipboard.readText()'));
      await page.getByRole('button', { name: 'Copy commit SHA' }).click();
      await page.locator('.run-commit button.copy[data-copied="copied"]').waitFor();
      expect(await clipboard()).toBe((await stack.run(runId)).sha);
      await page.getByRole('button', { name: 'Copy run id' }).click();
      await page.locator('.run-id button.copy[data-copied="copied"]').waitFor();
      expect(await clipboard()).toBe(runId);

      await page.getByRole('button', { name: 'Promote…' }).click();
      const dialog = page.getByRole('dialog');
      await dialog.getByRole('heading', { name: 'Promote run #1?' }).waitFor();
      // Where the run may go now comes first.
      const choices = dialog.getByLabel('Environment');
      expect(await choices.locator('option').allTextContents()).toEqual(['production', 'staging']);
      await choices.selectOption('production');
      await dialog.getByRole('button', { name: 'Confirm' }).click();
      const outcome = page.locator('.promote-outcome[data-state="awaiting-approval"]');
      await outcome.waitFor();
      expect(await outcome.textContent()).toContain('Promotion to production');
      productionId = (await outcome.getAttribute('data-promotion')) ?? '';

      await outcome.getByRole('link', { name: 'see the environments' }).click();
      const pending = card('production', 'pending', 'awaiting-approval');
      await pending.waitFor();
      expect(await pending.getAttribute('data-promotion')).toBe(productionId);
      await pending.getByText('0/1 approvals').waitFor();
      await environment('production').getByText('Nothing deployed yet.').waitFor();
      // Her own promotion: she may cancel it, not approve or reject it (the server would say 403).
      await pending.getByRole('button', { name: 'Cancel' }).waitFor();
      expect(await pending.getByRole('button', { name: 'Approve' }).count()).toBe(0);
      expect(await pending.getByRole('button', { name: 'Reject' }).count()).toBe(0);
      expect(await page.locator('[data-approvals-waiting]').count()).toBe(0);
      expect((await promotion(productionId)).state).toBe('awaiting-approval');
    });

    it("lists it in a second release manager's approvals inbox, whose approval deploys it", async () => {
      await web.signIn(robPage, 'rob', RELEASE_MANAGERS.rob);
      const nav = robPage.locator('.topbar nav');
      await nav.locator('[data-approvals-waiting="1"]').waitFor();
      await nav.getByRole('link', { name: 'Approvals', exact: true }).click();
      await robPage.getByRole('heading', { name: 'Approvals' }).waitFor();
      const row = robPage.locator(
        `tr[data-promotion="${productionId}"][data-environment="production"][data-run="1"]`,
      );
      await row.waitFor();
      expect(await robPage.locator('tr[data-promotion]').count()).toBe(1);
      await row.getByText('acme/shop').waitFor();
      await row.getByText('Add the release pipeline').waitFor();
      expect(await row.locator('td').nth(4).textContent()).toMatch(/^rita/);
      await row.getByText('0/1 approvals').waitFor();
      await row.getByText('dist/app.txt').waitFor();
      await row.getByRole('button', { name: 'Copy commit SHA' }).waitFor();
      await row.getByLabel('Comment').fill('ship it');
      await robPage.screenshot({ path: join(SCREENSHOTS, 'approvals.png') });

      // The approval that deploys asks first, naming what goes where.
      await row.getByRole('button', { name: 'Approve' }).click();
      const confirm = robPage.getByRole('dialog', { name: 'Deploy run #1 to production?' });
      await confirm.getByText('Yours is the last approval needed').waitFor();
      await confirm.getByRole('button', { name: 'Approve and deploy' }).click();
      await robPage.getByText('Nothing waits for your approval.').waitFor();
      await row.waitFor({ state: 'detached' });
      await nav.locator('[data-approvals-waiting]').waitFor({ state: 'detached' });

      // rita's board, polling, sees production take run #1.
      await card('production', 'current', 'deployed').waitFor({ timeout: DEPLOYED_WITHIN_MS });
      expect(await environment('production').locator('[data-pending]').count()).toBe(0);
    });

    it('shows both environments deployed on the board and in the history, as the API says', async () => {
      const production = card('production', 'current', 'deployed');
      expect(await production.getAttribute('data-promotion')).toBe(productionId);
      await production.getByText('1/1 approvals: rob').waitFor();
      // rob's comment in words on the board, not only in a tooltip.
      await production
        .locator('.decision-comments [data-user="rob"]')
        .getByText('rob (approved): “ship it”')
        .waitFor();
      expect(await card('staging', 'current', 'deployed').getAttribute('data-promotion')).toBe(
        stagingId,
      );
      await page.screenshot({ path: join(SCREENSHOTS, 'environments.png'), fullPage: true });

      const deployed = await promotion(productionId);
      expect(deployed).toMatchObject({
        state: 'deployed',
        environment: 'production',
        requestedBy: 'rita',
        run: { id: runId, number: 1 },
      });
      expect(deployed.approvals.map((a) => [a.user, a.decision, a.comment])).toEqual([
        ['rob', 'approve', 'ship it'],
      ]);
      expect(deployed.deployRun?.state).toBe('success');

      await environment('production').getByRole('link', { name: 'History' }).click();
      await page.getByRole('heading', { name: 'production', exact: true }).waitFor();
      const history = page.locator('tr[data-promotion]');
      await history.first().waitFor();
      expect(await history.count()).toBe(1);
      expect(await attributes(history, 'data-promotion')).toEqual([productionId]);
      expect(await attributes(history, 'data-state')).toEqual(['deployed']);
      expect(await attributes(history, 'data-run')).toEqual(['1']);
      await history.locator('.decision-comments').getByText('rob (approved): “ship it”').waitFor();
      expect(web.dialogs).toEqual([]);
    });

    it('offers no rerun of any kind on a failed deployment: a new promotion deploys again', async () => {
      const failing = await push({ '.kiln.yml': FAILING_DEPLOY_PIPELINE }, 'A deploy that fails');
      const asked = await stack.ok<Promotion>('POST', `/api/v1/runs/${failing}/promotions`, {
        environment: 'staging',
      });
      const ended = await vi.waitFor(
        async () => {
          const now = await promotion(asked.id);
          if (now.deployRun === undefined || now.deployRun.state !== 'failure') {
            throw new Error(`deploy run not failed yet: ${JSON.stringify(now.deployRun)}`);
          }
          return now;
        },
        { timeout: DEPLOYED_WITHIN_MS, interval: 250 },
      );
      const deployRun = ended.deployRun;
      // Read only: the page may load afresh (no write, so no CSRF token needed).
      // The actions show once the user's role has loaded: wait for it, and a frame to render it.
      const members = page.waitForResponse((response) =>
        new URL(response.url()).pathname.endsWith('/members'),
      );
      await page.goto(`${stack.serverUrl}/runs/${deployRun?.id ?? ''}`);
      await (await members).finished();
      await page
        .getByRole('heading', { name: new RegExp(`^Run #${deployRun?.number ?? 0}\\b`) })
        .waitFor();
      await page.locator('h1 .state').getByText('failure').waitFor();
      await page.locator('tr[data-job="deploy-staging"] .state').getByText('failure').waitFor();
      await page.evaluate(
        'new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)))',
      );
      expect(await page.getByRole('button', { name: /^Rerun/ }).count()).toBe(0);
    });
  },
);
