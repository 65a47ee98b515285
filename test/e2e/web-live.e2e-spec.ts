import type { Page, Request } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { browserTestsRunnable } from './support/browser';
import { printProcessesOnFailure } from './support/on-failure';
import { WebStack } from './support/web-stack';

const ADMIN_PASSWORD = 'e2e-web-live-admin-password';

// The build sleeps: a stretch with no change at all, in which a polling page would ask again.
const PIPELINE = `
jobs:
  build:
    steps:
      - run: sleep 8 && mkdir -p dist && echo "app of run $KILN_RUN_NUMBER" > dist/app.txt
    artifacts: [dist/**]
  deploy-staging:
    needs: [build]
    when: { event: promote, environment: staging }
    steps:
      - run: sha256sum dist/app.txt
`;

/**
 * Kept in the page from before the app starts: every event its EventSources received and every
 * fetch it made, in the order they happened there (the network log cannot order them).
 */
const RECORDER = `
  window.__kilnLive = [];
  const NativeEventSource = window.EventSource;
  window.EventSource = class extends NativeEventSource {
    constructor(url, init) {
      super(url, init);
      for (const type of ['ready', 'change', 'reset']) {
        this.addEventListener(type, () => window.__kilnLive.push({ kind: 'event', type }));
      }
    }
  };
  const nativeFetch = window.fetch.bind(window);
  window.fetch = (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    window.__kilnLive.push({ kind: 'fetch', path: new URL(url, location.href).pathname });
    return nativeFetch(input, init);
  };
`;

type Recorded = { kind: 'event'; type: string } | { kind: 'fetch'; path: string };

/** A page, with what it asked the network for. */
interface Watched {
  page: Page;
  requests: Request[];
}

describe.skipIf(!browserTestsRunnable)(
  'web UI in Chromium: the run page, the board, an environment and the cluster follow a run live, without polling',
  () => {
    beforeEach(printProcessesOnFailure);
    let web: WebStack;
    let runPage: Watched;
    let board: Watched;
    let cluster: Watched;
    let staging: Watched;
    let runId: string;

    beforeAll(async () => {
      web = await WebStack.start('shop', { adminPassword: ADMIN_PASSWORD });
      await web.stack.ok('PUT', `/api/v1/repositories/${web.repo.id}/environments/staging`, {});
      runPage = await watchedPage();
      board = await watchedPage();
      cluster = await watchedPage();
      staging = await watchedPage();
    });

    afterAll(() => web?.dispose());

    async function watchedPage(): Promise<Watched> {
      const page = await web.newPage();
      await page.context().addInitScript({ content: RECORDER });
      await web.signIn(page, 'admin', ADMIN_PASSWORD);
      const requests: Request[] = [];
      page.on('request', (request) => requests.push(request));
      return { page, requests };
    }

    /** The requests of `watched` to `path` (exactly, no query). */
    function requestsTo(watched: Watched, path: string): Request[] {
      return watched.requests.filter((request) => new URL(request.url()).pathname === path);
    }

    async function recorded(page: Page): Promise<Recorded[]> {
      return page.evaluate<Recorded[]>('window.__kilnLive');
    }

    /**
     * Every load of `path` followed an event of the page's stream that no earlier load answered:
     * none came from a timer. (Events during a load cause one more load after it.)
     */
    async function expectLoadsOnlyOnEvents(watched: Watched, path: string): Promise<void> {
      const log = (await recorded(watched.page)).filter(
        (entry) => entry.kind === 'event' || entry.path === path,
      );
      const loads = log.filter((entry) => entry.kind === 'fetch');
      expect(loads.length).toBeGreaterThan(0);
      let unanswered = 0;
      const timeline: string[] = [];
      for (const entry of log) {
        if (entry.kind === 'event') {
          unanswered += 1;
          timeline.push(entry.type);
        } else {
          timeline.push(unanswered > 0 ? 'load' : 'LOAD WITHOUT AN EVENT');
          unanswered = 0;
        }
      }
      expect(timeline, timeline.join(', ')).not.toContain('LOAD WITHOUT AN EVENT');
      expect(log[0]).toEqual({ kind: 'event', type: 'ready' });
      // The network saw these loads and no other: nothing outside the app's fetch polls either.
      expect(requestsTo(watched, path)).toHaveLength(loads.length);
      // One stream for the page's whole life: no reconnects, no second stream.
      expect(requestsTo(watched, '/api/v1/events')).toHaveLength(1);
    }

    it('shows the run reach success, the board the deployed build, the cluster its use', async () => {
      // The stack's one agent has 4 CPUs, none in use yet.
      await cluster.page.goto(`${web.stack.serverUrl}/cluster`);
      await cluster.page.getByRole('meter', { name: '0 of 4' }).first().waitFor();
      runId = await web.push({ '.kiln.yml': PIPELINE }, 'Add the pipeline');
      await runPage.page.goto(`${web.stack.serverUrl}/runs/${runId}`);
      await board.page.goto(`${web.stack.serverUrl}/repositories/${web.repo.id}/environments`);
      await board.page.locator('[data-environment="staging"]').waitFor();
      await board.page.getByText('No run can be promoted here now.').waitFor();
      await staging.page.goto(
        `${web.stack.serverUrl}/repositories/${web.repo.id}/environments/staging`,
      );
      await staging.page.getByText('Nothing has been promoted to staging yet.').waitFor();

      // The page loaded while the run went, and follows it to its end.
      await runPage.page.locator('h1 .state-running').waitFor();
      // The build's task holds a CPU while it sleeps; the cluster page shows it, then frees it.
      await cluster.page
        .locator('[role="meter"][aria-valuenow]:not([aria-valuenow="0"])')
        .first()
        .waitFor();
      await runPage.page.locator('h1 .state-success').waitFor({ timeout: 60_000 });
      await runPage.page.locator('tr[data-job="build"] .state-success').waitFor();

      // Passed: the board offers it for staging, unasked.
      const promotable = board.page.locator(
        '[data-environment="staging"] [data-promotable] [data-run="1"]',
      );
      await promotable.waitFor();

      await web.stack.ok('POST', `/api/v1/runs/${runId}/promotions`, { environment: 'staging' });
      await board.page
        .locator(
          '[data-environment="staging"] [data-current] .promotion[data-run="1"][data-state="deployed"]',
        )
        .waitFor({ timeout: 60_000 });

      // The environment's history shows the deployment, unasked.
      await staging.page.locator('.deployments [data-state="deployed"]').first().waitFor();

      await expectLoadsOnlyOnEvents(runPage, `/api/v1/runs/${runId}`);
      await expectLoadsOnlyOnEvents(
        staging,
        `/api/v1/repositories/${web.repo.id}/environments/staging/deployments`,
      );
      await expectLoadsOnlyOnEvents(board, `/api/v1/repositories/${web.repo.id}/environments`);
      await cluster.page.getByRole('meter', { name: '0 of 4' }).first().waitFor();
      await expectLoadsOnlyOnEvents(cluster, '/api/v1/agents');
    });
  },
);
