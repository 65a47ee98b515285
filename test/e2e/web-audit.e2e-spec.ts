import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ApiClient } from './support/api-client';
import { browserTestsRunnable, SCREENSHOTS } from './support/browser';
import { printProcessesOnFailure } from './support/on-failure';
import { API_TOKEN, type PipelineStack } from './support/pipeline-stack';
import { releasePipeline } from './support/release-pipeline';
import { User } from './support/user';
import { WebStack } from './support/web-stack';

const ADMIN_PASSWORD = 'e2e-web-audit-admin-password';
const VIEWER = { name: 'vera', password: 'vera-viewer-password' };
/** A second administrator, whose own actions the actor filter picks out. */
const AUDITOR = 'audra';
const SECRET = 'DEPLOY_KEY';

// More repository changes than one page of the log holds (the page asks for 50), so it pages.
const FILLER_EVENTS = 60;

interface Artifact {
  name: string;
  attempt: number;
  size: number;
  sha256: string;
}

interface AuditEvent {
  id: string;
  actor?: string;
  action: string;
  summary: string;
  repositoryFullName?: string;
}

interface AuditPage {
  events: AuditEvent[];
  next?: string;
}

describe.skipIf(!browserTestsRunnable)(
  'web UI in Chromium: a run’s artifacts, and the audit log for admins only',
  () => {
    beforeEach(printProcessesOnFailure);
    let web: WebStack;
    let stack: PipelineStack;
    let page: Page;
    /** How many events one page of the audit log asks for, read off its request. */
    let pageSize: number;

    beforeAll(async () => {
      web = await WebStack.start('audit', { adminPassword: ADMIN_PASSWORD });
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

    /** The whole log as the API has it, newest first, in pages of `limit`, filtered by `filter`. */
    async function auditLog(
      filter: Record<string, string> = {},
      limit = 200,
    ): Promise<AuditPage[]> {
      const pages: AuditPage[] = [];
      let before: string | undefined;
      do {
        const query = new URLSearchParams({
          ...filter,
          limit: String(limit),
          ...(before === undefined ? {} : { before }),
        });
        const page = await stack.ok<AuditPage>('GET', `/api/v1/audit?${query.toString()}`);
        pages.push(page);
        before = page.next;
      } while (before !== undefined);
      return pages;
    }

    async function allEvents(filter: Record<string, string> = {}): Promise<AuditEvent[]> {
      return (await auditLog(filter)).flatMap((p) => p.events);
    }

    const rows = (): Locator => page.locator('tr[data-event]');

    /** The events the table shows, in page order, as [id, actor, action, summary]. */
    async function shown(): Promise<string[][]> {
      return Promise.all(
        (await rows().all()).map(async (row) => [
          (await row.getAttribute('data-event')) ?? '',
          ...(await row.locator('td').allTextContents()).slice(1, 4),
        ]),
      );
    }

    /** The same four columns of events as the API has them; Kiln itself shows as the actor. */
    const expected = (events: AuditEvent[]): string[][] =>
      events.map((e) => [e.id, e.actor ?? 'Kiln', e.action, e.summary]);

    /** Waits until the table shows exactly `events`, in their order. */
    async function untilShown(events: AuditEvent[]): Promise<void> {
      await expect.poll(shown, { timeout: 10_000 }).toEqual(expected(events));
    }

    it('lists the artifacts a run kept, with size and digest, and downloads their bytes', async () => {
      const run = await stack.waitForRun(
        await web.push({ '.kiln.yml': releasePipeline() }, 'Add the release pipeline'),
      );
      expect(run.state, JSON.stringify(run.jobs)).toBe('success');
      const build = run.jobs.find((job) => job.key === 'build');
      expect(build).toBeDefined();
      const jobId = build?.id ?? '';
      const kept = await stack.ok<Artifact[]>('GET', `/api/v1/jobs/${jobId}/artifacts`);
      const app = kept.find((artifact) => artifact.name === 'dist/app.txt');
      expect(app, JSON.stringify(kept)).toBeDefined();
      const { size, sha256 } = app ?? { size: 0, sha256: '' };

      await page.getByRole('link', { name: 'acme/audit' }).click();
      await page.locator('tr[data-run="1"]').getByRole('link', { name: '#1' }).click();
      await page.getByRole('heading', { name: /Run #1/ }).waitFor();
      const row = page.locator('tr[data-artifact="dist/app.txt"][data-artifact-job="build"]');
      await row.waitFor();
      expect(await page.locator('tr[data-artifact]').count()).toBe(kept.length);
      const cells = await row.locator('td').allTextContents();
      expect(cells.slice(0, 3)).toEqual(['build', 'dist/app.txt', `${size} B`]);
      const digest = row.locator('code.sha');
      expect(await digest.getAttribute('title')).toBe(sha256);
      const shortDigest = (await digest.textContent()) ?? '';
      expect(shortDigest.length).toBeGreaterThanOrEqual(8);
      expect(sha256.startsWith(shortDigest)).toBe(true);

      const link = row.getByRole('link', { name: 'Download' });
      const href = (await link.getAttribute('href')) ?? '';
      expect(new URL(href, stack.serverUrl).pathname).toBe(
        `/api/v1/jobs/${jobId}/artifacts/dist/app.txt`,
      );
      // A person's click: the browser downloads it with the session's cookie.
      const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
      expect(download.suggestedFilename()).toBe('app.txt');
      const bytes = await readFile(await download.path());
      expect(bytes.length).toBe(size);
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(sha256);
      expect(bytes.toString()).toMatch(/^app of run 1, \d+\n$/);
    });

    it('lists who did what, newest first, as the API has it', async () => {
      for (let i = 0; i < FILLER_EVENTS; i++) {
        await stack.ok('PATCH', `/api/v1/repositories/${web.repo.id}`, {
          autoCancelPullRequests: i % 2 === 0,
        });
      }
      await web.addMember(VIEWER.name, VIEWER.password, 'viewer');
      // Created by the admin; makes a token of her own, then sets and removes a secret.
      const auditor = await User.create(
        new ApiClient(stack.serverUrl, API_TOKEN, 'admin'),
        AUDITOR,
        { admin: true },
      );
      await auditor.ok('PUT', `/api/v1/repositories/${web.repo.id}/secrets/${SECRET}`, {
        value: 'not to be logged',
      });
      await auditor.ok('DELETE', `/api/v1/repositories/${web.repo.id}/secrets/${SECRET}`);

      const events = await allEvents();
      expect(
        events.slice(0, 7).map((e) => [e.actor, e.action, e.summary, e.repositoryFullName]),
      ).toEqual([
        [
          AUDITOR,
          'secret.deleted',
          `${AUDITOR} removed secret ${SECRET} of acme/audit`,
          'acme/audit',
        ],
        [AUDITOR, 'secret.set', `${AUDITOR} added secret ${SECRET} of acme/audit`, 'acme/audit'],
        [AUDITOR, 'token.created', `${AUDITOR} created API token "cli"`, undefined],
        ['admin', 'user.created', `admin created administrator ${AUDITOR}`, undefined],
        [
          'admin',
          'role.granted',
          `admin gave ${VIEWER.name} the viewer role on acme/audit`,
          'acme/audit',
        ],
        ['admin', 'user.created', `admin created user ${VIEWER.name}`, undefined],
        [
          'admin',
          'repository.updated',
          'admin changed autoCancelPullRequests of acme/audit',
          'acme/audit',
        ],
      ]);
      expect(events.at(-1)?.action).toBe('repository.created');
      expect(JSON.stringify(events)).not.toContain('not to be logged');

      const asked = page.waitForRequest((request) =>
        request.url().startsWith(`${stack.serverUrl}/api/v1/audit`),
      );
      await openFromHeader('Audit');
      await page.getByRole('heading', { name: 'Audit log' }).waitFor();
      const request = new URL((await asked).url());
      pageSize = Number(request.searchParams.get('limit'));
      expect(request.searchParams.has('before')).toBe(false);
      expect(pageSize).toBeGreaterThan(0);
      expect(events.length, 'more events than one page holds').toBeGreaterThan(pageSize);

      await untilShown(events.slice(0, pageSize));
      // A repository's events link to it by its name.
      const secretRow = page.locator(`tr[data-action="secret.set"]`);
      expect(await secretRow.getByRole('link', { name: 'acme/audit' }).getAttribute('href')).toBe(
        `/repositories/${web.repo.id}`,
      );
      await page.screenshot({ path: join(SCREENSHOTS, 'audit.png') });
    });

    it('filters by action, by actor, and says when nothing matches', async () => {
      const action = page.getByLabel('Action');
      const actor = page.getByLabel('Actor');
      const filter = page.getByRole('button', { name: 'Filter' });

      // Every action the log holds can be picked.
      const offered = await action.locator('option').allTextContents();
      for (const name of new Set((await allEvents()).map((e) => e.action))) {
        expect(offered, `the Action filter offers ${name}`).toContain(name);
      }

      await action.selectOption('secret.set');
      await filter.click();
      const secretSet = await allEvents({ action: 'secret.set' });
      expect(secretSet.map((e) => e.summary)).toEqual([
        `${AUDITOR} added secret ${SECRET} of acme/audit`,
      ]);
      await untilShown(secretSet);
      expect(await page.getByRole('button', { name: 'Older' }).count()).toBe(0);

      await action.selectOption('');
      await actor.fill(AUDITOR);
      await filter.click();
      const hers = await allEvents({ actor: AUDITOR });
      expect(hers.map((e) => e.action)).toEqual(['secret.deleted', 'secret.set', 'token.created']);
      await untilShown(hers);

      // Both at once: every filter given must hold.
      await action.selectOption('token.created');
      await filter.click();
      await untilShown(hers.slice(2));

      await actor.fill('nobody');
      await filter.click();
      await page.getByText('No events match.').waitFor();
      expect(await rows().count()).toBe(0);

      // A user name has at most 63 characters, as many as the server's actor filter takes: a
      // longer one pasted in matches nothing rather than failing the call.
      await actor.fill('x'.repeat(70));
      expect(await actor.inputValue()).toBe('x'.repeat(63));
      await filter.click();
      await page.getByText('No events match.').waitFor();
      expect(await page.getByRole('alert').count()).toBe(0);

      await action.selectOption('');
      await actor.fill('');
      await filter.click();
      await untilShown((await allEvents()).slice(0, pageSize));
    });

    it('pages back with Older until the first event, without repeats', async () => {
      const pages = await auditLog({}, pageSize);
      expect(pages.length).toBeGreaterThan(1);
      const older = page.getByRole('button', { name: 'Older' });
      for (let shownPages = 1; shownPages < pages.length; shownPages++) {
        await older.click();
        await untilShown(pages.slice(0, shownPages + 1).flatMap((p) => p.events));
      }
      await older.waitFor({ state: 'detached' });
      expect(await rows().last().getAttribute('data-action')).toBe('repository.created');
      expect(web.dialogs).toEqual([]);
    });

    it('shows a non-admin no Audit link, and at /audit a notice rather than the log', async () => {
      const viewer = await web.newPage();
      const auditCalls: string[] = [];
      viewer.on('request', (request) => {
        if (new URL(request.url()).pathname.startsWith('/api/v1/audit')) {
          auditCalls.push(request.url());
        }
      });
      await web.signIn(viewer, VIEWER.name, VIEWER.password);
      const nav = viewer.locator('.topbar nav');
      await nav.getByRole('link', { name: 'Tokens', exact: true }).waitFor();
      expect(await nav.getByRole('link', { name: 'Audit', exact: true }).count()).toBe(0);

      await viewer.goto(`${stack.serverUrl}/audit`);
      await viewer.getByRole('heading', { name: 'Audit log' }).waitFor();
      await viewer.getByText('Only admins read the audit log.').waitFor();
      expect(await viewer.locator('tr[data-event]').count()).toBe(0);
      expect(await viewer.getByLabel('Action').count()).toBe(0);
      expect(auditCalls).toEqual([]);

      // The server insists too: her session gets no events.
      const cookies = await viewer.context().cookies(stack.serverUrl);
      const answer = await fetch(`${stack.serverUrl}/api/v1/audit`, {
        headers: { cookie: cookies.map((c) => `${c.name}=${c.value}`).join('; ') },
      });
      expect(answer.status).toBe(403);
      await viewer.context().close();
    });
  },
);
