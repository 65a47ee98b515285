import { errorMessage, gitEnv, GIT_ENV_OPTIONS, KeyedMutex, sharedLauncher } from '@kiln/common';
import type { SourceInfo } from '@kiln/contracts';
import { randomBytes } from 'node:crypto';
import { access, chmod, lchown, mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { simpleGit } from 'simple-git';
import {
  checkoutFromPack,
  initRepository,
  PackCache,
  packSourceOf,
  PackTooLargeError,
  type PackCacheLimits,
} from './pack-cache';
import { checkOutCommit, type CheckoutBy } from './owned-checkout';
import { checkoutSource, SourceCheckoutError } from './source-checkout';

/** A repository key as the server names it (its id): safe as a directory name. */
const CACHE_KEY = /^[A-Za-z0-9_-]{1,128}$/;
/** Fetched commits are kept under a ref of their own, so that no gc prunes them. */
const KEPT = 'refs/kiln/commits/';
/** The end of a failed checkout's stderr that its error keeps. */
const FAILURE_TEXT_CHARS = 4096;

/**
 * The agent's object cache, in a root-only directory no container ever sees: for a source whose
 * server serves the commit as one pack (Kiln's own), that pack ({@link PackCache}); for any other,
 * one bare repository per source repository. A commit is fetched from its source once per agent;
 * every task of it (the other jobs of a run, reruns, retries) then checks it out from the cache,
 * so only what the cache lacks crosses the network, and a second job of a run fetches nothing.
 * Fetches into one cache are serialized within the agent; checkouts from it run at once. The
 * cache only ever receives what its source served, and git checks every object's id: a build
 * cannot put anything into it (it sees its workspace only).
 */
export class SourceCache {
  /** Fetches into one repository's cache, one at a time. */
  private readonly fetches = new KeyedMutex();
  private readonly packs: PackCache;
  private rooted: Promise<void> | undefined;

  constructor(
    private readonly rootDir: string,
    /**
     * Told when the cache itself fails, or a pack cannot be had: the checkout then fetches through
     * git's protocol, from the source directly if need be.
     */
    private readonly onCacheFailure: (key: string, error: unknown) => void = () => undefined,
    packLimits: PackCacheLimits = {},
  ) {
    this.packs = new PackCache(rootDir, packLimits);
  }

  /**
   * Checks `source` out into the task's `workspace`: through the cache when the source names a
   * cache key, directly otherwise, and directly should the cache itself fail. A source that
   * cannot be fetched fails the same either way ({@link SourceCheckoutError}). The agent fetches
   * the commit's objects; git checks the commit out as `by` says, if the task's
   * containerizer gives one ({@link checkOutCommit}).
   */
  async checkout(
    workspace: string,
    source: SourceInfo,
    signal?: AbortSignal,
    by?: CheckoutBy,
  ): Promise<void> {
    const packed = await this.checkoutPack(workspace, source, signal, by);
    if (packed === 'checked-out') return;
    const direct = {
      ...(signal ? { signal } : {}),
      ...(by === undefined ? {} : { by }),
    };
    // Too large for the pack cache: not kept in the other one either.
    if (packed === 'not-kept') return checkoutSource(workspace, source, direct);
    let cached: SourceInfo | undefined;
    try {
      cached = await this.hold(source, signal);
    } catch (error) {
      if (error instanceof SourceCheckoutError) throw error;
      this.onCacheFailure(source.cacheKey ?? '', error);
    }
    if (cached === undefined) return checkoutSource(workspace, source, direct);
    await checkoutFromCache(workspace, cached, signal, by);
  }

  /**
   * Checks the commit out from its pack, downloaded into the cache if need be. Otherwise, for the
   * checkout through git's protocol to take over in an empty workspace: `through-git` when the
   * source serves no pack, or it could not be had or checked out (told as a cache failure; a pack
   * that does not check out is dropped from the cache, one that does not fit beside the downloads
   * under way is not kept), `not-kept` when it is larger than the whole cache.
   */
  private async checkoutPack(
    workspace: string,
    source: SourceInfo,
    signal: AbortSignal | undefined,
    by: CheckoutBy | undefined,
  ): Promise<'checked-out' | 'through-git' | 'not-kept'> {
    const key = source.cacheKey;
    const packed = packSourceOf(source);
    if (packed === undefined || key === undefined || !CACHE_KEY.test(key)) return 'through-git';
    const killed = () => new SourceCheckoutError(source, 'stopped: the task was killed');
    // A function: the signal can be aborted while the checkout runs.
    const aborted = (): boolean => signal?.aborted === true;
    // Made while the pack is downloaded, one git program less after it. Settled, never rejected,
    // and waited for on every way out: nothing is left writing into the workspace.
    const initialized = initRepository(workspace).then(
      () => undefined,
      (error: unknown) => ({ error }),
    );
    try {
      await this.ensureRoot();
      const cached = await this.packs.hold(key, packed, signal);
      if (aborted()) throw killed();
      const init = await initialized;
      if (init !== undefined) throw init.error;
      // Stopped by a kill as a checkout from the cache is (see checkoutFromCache).
      await checkoutFromPack(workspace, cached, source.sha, by, signal).catch(
        async (error: unknown) => {
          // A pack that does not check out goes; a checkout a kill stopped says nothing of it.
          if (!aborted()) await this.packs.evict(key, source.sha);
          throw error;
        },
      );
    } catch (error) {
      await initialized;
      if (error instanceof SourceCheckoutError) throw error;
      if (aborted()) throw killed();
      this.onCacheFailure(key, error);
      await emptyDirectory(workspace);
      // The agent's again, for git's protocol to take over: git, as the agent, refuses a
      // repository of another user's (the container's checkout leaves it the agent's).
      if (typeof by === 'object')
        await lchown(workspace, process.getuid?.() ?? 0, process.getgid?.() ?? 0);
      // Larger than the whole cache: kept in neither. One that does not fit now may be next time.
      return error instanceof PackTooLargeError && error.lasting ? 'not-kept' : 'through-git';
    }
    if (aborted()) throw killed();
    return 'checked-out';
  }

  /**
   * Starts downloading the commit's pack into the cache, where the task's checkout looks for it:
   * called as the task's LAUNCH arrives, so that the download and its indexing overlap the
   * making ready of the task's container and sandbox instead of following them. A checkout that
   * comes meanwhile waits for this download rather than starting another. Never rejects: the
   * checkout meets (and reports) a failure again, and tries once more.
   */
  prefetch(source: SourceInfo, signal?: AbortSignal): void {
    const key = source.cacheKey;
    const packed = packSourceOf(source);
    if (packed === undefined || key === undefined || !CACHE_KEY.test(key)) return;
    this.ensureRoot()
      .then(() => this.packs.hold(key, packed, signal))
      .catch(() => undefined);
  }

  /**
   * Drops the commit's pack, should the cache hold one: its checkout in a task's container
   * failed, and the next task of the commit downloads it again rather than failing on it too (a
   * pack lacking part of the commit fails there, where the agent runs no git of its own). What
   * git fetched, into a cache or a workspace, it checked whole as it fetched.
   */
  async dropPack(source: SourceInfo): Promise<void> {
    const key = source.cacheKey;
    if (packSourceOf(source) === undefined || key === undefined || !CACHE_KEY.test(key)) return;
    await this.packs.evict(key, source.sha);
  }

  /**
   * The source to check the task's commit out from: the cache, holding the commit (fetched from
   * `source` if it lacked it). `undefined` when the source names no cache key.
   */
  async hold(source: SourceInfo, signal?: AbortSignal): Promise<SourceInfo | undefined> {
    const key = source.cacheKey;
    if (key === undefined || !CACHE_KEY.test(key)) return undefined;
    const dir = join(this.rootDir, `${key}.git`);
    await this.fetches.run(key, async () => {
      if (!(await exists(dir))) await this.create(dir);
      if (await hasCommit(dir, source.sha)) return;
      // The commit's objects land in the cache through the same checkout logic a workspace uses
      // (credentials as a header, retries while the server restarts), kept under a ref.
      await checkoutSource(dir, source, { keepAs: `${KEPT}${source.sha}`, signal });
    });
    return { url: `file://${dir}`, sha: source.sha };
  }

  /**
   * The cache's directory, root's alone: no task's user may look into it. Made (or closed to
   * others) at the first checkout, not at each: they are two file system round trips before a
   * checkout's download starts.
   */
  private ensureRoot(): Promise<void> {
    this.rooted ??= makeRoot(this.rootDir).catch((error: unknown) => {
      this.rooted = undefined;
      throw error;
    });
    return this.rooted;
  }

  private async create(dir: string): Promise<void> {
    // Not the memo: git would make a root removed meanwhile open to all (0755).
    await makeRoot(this.rootDir);
    const temp = `${dir}.${randomBytes(4).toString('hex')}.tmp`;
    await simpleGit(GIT_ENV_OPTIONS).env(gitEnv()).raw(['init', '--bare', '--quiet', temp]);
    await rename(temp, dir).catch(async (error: unknown) => {
      await rm(temp, { recursive: true, force: true });
      if (!(await exists(dir))) throw error;
    });
  }
}

/** Makes the cache's directory, or closes an existing one to all but root. */
async function makeRoot(rootDir: string): Promise<void> {
  await mkdir(rootDir, { recursive: true, mode: 0o700 });
  await chmod(rootDir, 0o700);
}

/**
 * The commit, from the cache (which holds it), into the empty workspace: one shell, started by the
 * agent's launcher, running the two git commands that fetch it (one program start where there
 * would be two), then the checkout, as `by` says ({@link checkOutCommit}). Shallow, like
 * a checkout from the source. No FETCH_HEAD (it would name the cache's path on the agent, nothing
 * a build needs to know) and no automatic maintenance: a workspace lives for one task.
 */
async function checkoutFromCache(
  workspace: string,
  cached: SourceInfo,
  signal: AbortSignal | undefined,
  by: CheckoutBy | undefined,
): Promise<void> {
  const killed = () => new SourceCheckoutError(cached, 'stopped: the task was killed');
  // A function: the signal can be aborted while the checkout runs.
  const aborted = (): boolean => signal?.aborted === true;
  if (aborted()) throw killed();
  try {
    // The agent's git is not stopped by a kill: that would end the shell and leave its git
    // writing into a sandbox about to be removed. A fetch from the cache is short; the kill is
    // honoured after it. A checkout by the task's user ends at once, its namespace with it.
    await sharedLauncher().run(
      '/bin/sh',
      ['-c', FETCH_SCRIPT, 'kiln-checkout', cached.url, cached.sha],
      { cwd: workspace, env: gitEnv() },
    );
    await checkOutCommit(workspace, cached.sha, by, signal);
  } catch (error) {
    throw new SourceCheckoutError(cached, failureText(error));
  }
  if (aborted()) throw killed();
}

const FETCH_SCRIPT =
  'git init -q && ' +
  'git -c maintenance.auto=false -c gc.auto=0 fetch -q --no-tags --no-write-fetch-head --depth 1 "$1" "$2"';

/** What git said, its end: a hostile repository can make it complain for megabytes. */
function failureText(error: unknown): string {
  const stderr = (error as { stderr?: unknown }).stderr;
  return typeof stderr === 'string' && stderr.trim() !== ''
    ? stderr.trim().slice(-FAILURE_TEXT_CHARS)
    : errorMessage(error);
}

async function hasCommit(dir: string, sha: string): Promise<boolean> {
  return simpleGit({ ...GIT_ENV_OPTIONS, baseDir: dir })
    .env(gitEnv())
    .raw(['cat-file', '-t', sha])
    .then(
      (type) => type.trim() === 'commit',
      () => false,
    );
}

/** Removes what is in `dir`, keeping `dir`. */
async function emptyDirectory(dir: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(names.map((name) => rm(join(dir, name), { recursive: true, force: true })));
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
