import { freePort } from '@kiln/queue/testing';
import { mkdirSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, SCREENSHOTS, signIn } from './browser';
import { FakeForge, githubPush, webhookHeaders } from './forge';
import { GitDaemon } from './git-daemon';
import { PipelineStack } from './pipeline-stack';

/** A repository as POST /api/v1/repositories answers it. */
export interface RegisteredRepository {
  id: string;
  fullName: string;
  webhookSecret: string;
}

export type RepositoryRole = 'viewer' | 'developer' | 'release-manager';

export interface WebStackOptions {
  /** The administrator's password, for a test that signs in as `admin`. */
  adminPassword?: string;
  /** False: an empty installation, where the test registers acme/<name> itself. */
  register?: boolean;
}

/**
 * What a test of the web UI stands on: Kiln as processes; one repository, acme/<name>, on a git
 * daemon and registered with a fake GitHub as its forge; and Chromium.
 */
export class WebStack {
  /** What every native dialog of a page from `newPage` said: the app asks in dialogs of its own. */
  readonly dialogs: string[] = [];

  private constructor(
    readonly stack: PipelineStack,
    private readonly git: GitDaemon,
    private readonly forge: FakeForge,
    readonly browser: Browser,
    private readonly registered: RegisteredRepository | undefined,
    /** Commits `files` to main of acme/<name> on the git daemon: the commit's id. */
    readonly commit: (files: Record<string, string>, message?: string) => string,
    /** Where git clones acme/<name> from. */
    readonly cloneUrl: string,
  ) {}

  /** The repository the stack registered (unless `register: false`). */
  get repo(): RegisteredRepository {
    if (this.registered === undefined) throw new Error('this stack registered no repository');
    return this.registered;
  }

  /** The fake forge's API root: a repository's `apiUrl`, so that commit statuses stay here. */
  get forgeUrl(): string {
    return this.forge.url;
  }

  static async start(name: string, options: WebStackOptions = {}): Promise<WebStack> {
    let git: GitDaemon | undefined;
    let forge: FakeForge | undefined;
    let stack: PipelineStack | undefined;
    try {
      git = await GitDaemon.start(await freePort());
      forge = await FakeForge.start();
      stack = await PipelineStack.start(
        options.adminPassword === undefined
          ? {}
          : { serverEnv: { KILN_ADMIN_PASSWORD: options.adminPassword } },
      );
      const commit = git.createRepository(name);
      const repo =
        options.register === false
          ? undefined
          : await stack.ok<RegisteredRepository>('POST', '/api/v1/repositories', {
              forge: 'github',
              fullName: `acme/${name}`,
              cloneUrl: git.url(name),
              forgeToken: 'forge-token',
              apiUrl: forge.url,
            });
      const browser = await launchChromium();
      mkdirSync(SCREENSHOTS, { recursive: true });
      return new WebStack(stack, git, forge, browser, repo, commit, git.url(name));
    } catch (error) {
      // A failed start leaves nothing running.
      await Promise.all([stack?.dispose(), git?.stop(), forge?.stop()]);
      throw error;
    }
  }

  /** A page in a browser context of its own, at 1280×800; its native dialogs are dismissed. */
  async newPage(
    viewport: { width: number; height: number } = { width: 1280, height: 800 },
  ): Promise<Page> {
    const context = await this.browser.newContext({ viewport });
    const page = await context.newPage();
    page.on('dialog', (dialog) => {
      this.dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    return page;
  }

  /** Signs `page` in through the web UI's form, as a person would. */
  signIn(page: Page, username: string, password: string): Promise<void> {
    return signIn(page, this.stack.serverUrl, username, password);
  }

  /** Adds a user with `password` and `role` on the repository, through the admin API: their id. */
  async addMember(username: string, password: string, role: RepositoryRole): Promise<string> {
    const { id } = await this.stack.ok<{ id: string }>('POST', '/api/v1/users', {
      username,
      password,
    });
    await this.stack.ok('PUT', `/api/v1/repositories/${this.repo.id}/members/${id}`, { role });
    return id;
  }

  /** Commits `files` to main and sends GitHub's push webhook for it: the id of the run it starts. */
  async push(files: Record<string, string>, message: string): Promise<string> {
    const sha = this.commit(files, message);
    const raw = Buffer.from(JSON.stringify(githubPush(this.repo.fullName, sha, message)));
    const res = await this.stack.webhook(
      '/hooks/github',
      webhookHeaders('github', 'push', raw, this.repo.webhookSecret),
      raw,
    );
    if (res.status !== 202) {
      throw new Error(`the push webhook got ${res.status}: ${JSON.stringify(res.body)}`);
    }
    return res.body.runId as string;
  }

  async dispose(): Promise<void> {
    await this.browser.close();
    await Promise.all([this.stack.dispose(), this.git.stop(), this.forge.stop()]);
  }
}
