import {
  evictions,
  gitEnv,
  KeyedMutex,
  RecentKeys,
  sharedLauncher,
  type CachedItem,
} from '@kiln/common';
import type { SourceInfo } from '@kiln/contracts';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { copyFile, mkdir, readdir, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { checkOutCommit, type CheckoutBy } from './owned-checkout';
import { basicAuthorization } from './source-checkout';

/** Commits kept per repository: a run's jobs and a few recent pushes' reruns fetch nothing. */
const DEFAULT_KEPT_COMMITS = 32;
/** What the whole cache may hold by default: Mesos' fetcher cache has the same default size. */
export const DEFAULT_PACK_CACHE_BYTES = 2 * 1024 ** 3;
const COMMIT_DIR = /^[0-9a-f]{40}$/;
/** What a download is made in until it is whole. */
const TEMP_SUFFIX = '.tmp';

/** Commits remembered as too large for the cache, per agent: no task downloads them again. */
const REMEMBERED_TOO_LARGE = 1024;

/**
 * A commit's pack does not fit in the cache: larger than the whole cache (`lasting`, remembered so
 * that no task downloads it again), or than the room the downloads under way leave now. Either
 * way the task checks it out without keeping it.
 */
export class PackTooLargeError extends Error {
  constructor(
    message: string,
    readonly lasting: boolean,
  ) {
    super(message);
  }
}

/** A commit's pack in the cache, and its index. */
export interface CachedPack {
  pack: string;
  index: string;
}

/** How much the cache keeps. */
export interface PackCacheLimits {
  /** Commits kept per repository, the most recently used; default 32. */
  commitsPerRepository?: number;
  /**
   * Bytes the whole cache may hold, every repository's commits and the downloads under way
   * together; default 2 GiB. Room is made before a download, the least recently used commits
   * going first; a commit whose pack alone is larger, or that does not fit beside the downloads
   * under way, is not kept at all (its download stops there, or never starts), and its tasks
   * check out through git's protocol instead.
   */
  maxBytes?: number;
}

/** A source whose server serves the commit as one pack (see `SourceInfo.packUrl`). */
export type PackSource = SourceInfo & { packUrl: string };

/** Commits as packs: SHA-1 ones, which git's tools read outside a repository by default. */
export function packSourceOf(source: SourceInfo): PackSource | undefined {
  const { packUrl } = source;
  return packUrl !== undefined && source.sha.length === 40 ? { ...source, packUrl } : undefined;
}

/**
 * The agent's commits as packs, one directory per commit of a repository (`<key>.packs/<sha>`):
 * the commit and its tree, downloaded from the server with one plain GET and indexed with
 * `git index-pack`, which checks every object's id. A workspace is then made from a copy of the
 * pack with two git commands (`checkoutFromPack`), where fetching it through git's smart HTTP
 * took about ten processes between agent and server: on a machine where each costs 10–30 ms,
 * that is most of a job's way to its first line. A commit is downloaded once per agent; every
 * task of it (the other jobs of its run, reruns, retries) checks out from the cache, which keeps
 * the most recently used commits within its limits ({@link PackCacheLimits}).
 */
export class PackCache {
  /** Downloads of one commit, one at a time. */
  private readonly downloads = new KeyedMutex();
  /** Per repository: what an earlier agent left half-made there, removed before first use. */
  private readonly swept = new Map<string, Promise<void>>();
  /** The size bound being enforced (room made, or the cache trimmed), one pass at a time. */
  private bounding: Promise<unknown> = Promise.resolve();
  /**
   * Bytes promised to downloads under way: counted with the commits on disk against the cache's
   * size, so that several downloads at once cannot take it over.
   */
  private reserved = 0;
  /**
   * The commits being held now: downloaded and renamed into place, or found, but not yet handed
   * to their task. Room made for another download never removes them.
   */
  private readonly holding = new Set<string>();
  /** `<key>/<sha>` of the commits found too large lately. */
  private readonly tooLarge = new RecentKeys(REMEMBERED_TOO_LARGE);
  private readonly keep: number;
  private readonly maxBytes: number;

  /** `rootDir`: the agent's root-only cache directory, which the caller has made. */
  constructor(
    private readonly rootDir: string,
    limits: PackCacheLimits = {},
  ) {
    this.keep = limits.commitsPerRepository ?? DEFAULT_KEPT_COMMITS;
    this.maxBytes = limits.maxBytes ?? DEFAULT_PACK_CACHE_BYTES;
  }

  /** The commit's pack, downloaded first if the cache lacks it. */
  async hold(key: string, source: PackSource, signal?: AbortSignal): Promise<CachedPack> {
    const repository = join(this.rootDir, `${key}.packs`);
    const dir = join(repository, source.sha);
    await this.sweep(key, repository);
    const commit = `${key}/${source.sha}`;
    if (this.tooLarge.has(commit)) throw tooLarge(source.sha, this.maxBytes, true);
    return this.downloads.run(commit, async () => {
      this.holding.add(dir);
      try {
        return await this.holdLocked(repository, dir, commit, source, signal);
      } finally {
        this.holding.delete(dir);
      }
    });
  }

  /** {@link hold}, for one commit at a time. */
  private async holdLocked(
    repository: string,
    dir: string,
    commit: string,
    source: PackSource,
    signal: AbortSignal | undefined,
  ): Promise<CachedPack> {
    const cached = await findPack(dir);
    if (cached !== undefined) {
      // Used now: the last to be removed.
      const now = new Date();
      await utimes(dir, now, now).catch(() => undefined);
      return cached;
    }
    // Made whole beside it, then renamed into place: a directory there is always complete. With
    // the repository's directory, when it is the first commit's, in one call.
    const temp = `${dir}.${randomBytes(4).toString('hex')}${TEMP_SUFFIX}`;
    await mkdir(temp, { recursive: true, mode: 0o700 });
    let promised = 0;
    try {
      const downloaded = join(temp, 'download.pack');
      const room = async (announced: number): Promise<number> =>
        (promised = await this.reserve(source.sha, announced));
      await download(source, downloaded, room, signal).catch((error: unknown) => {
        if (error instanceof PackTooLargeError && error.lasting) this.tooLarge.add(commit);
        throw error;
      });
      const name = await indexPack(downloaded);
      await rename(downloaded, join(temp, `pack-${name}.pack`));
      await rename(join(temp, 'download.idx'), join(temp, `pack-${name}.idx`));
      // What is there is incomplete (findPack found no pack): an eviction cut short, say.
      await rm(dir, { recursive: true, force: true });
      await rename(temp, dir);
    } finally {
      // In place (on disk, where the cache's bound counts it) or failed: no longer promised.
      this.reserved -= promised;
      await rm(temp, { recursive: true, force: true });
    }
    const held = await findPack(dir);
    if (held === undefined) throw new Error(`the pack of ${source.sha} vanished from the cache`);
    await this.trim(repository, source.sha);
    await this.bound(dir);
    return held;
  }

  /**
   * Makes room for a download of `bytes`, removing the least recently used commits (none being
   * held) until it fits beside those on disk and the other downloads under way; the bytes it may
   * write. Fails with {@link PackTooLargeError} when it cannot fit: larger than the whole cache,
   * or than the room the other downloads leave now (it is then not kept, and not waited for).
   */
  private reserve(sha: string, bytes: number): Promise<number> {
    if (bytes > this.maxBytes) return Promise.reject(tooLarge(sha, this.maxBytes, true));
    const pass = this.bounding.then(async () => {
      // Read before the disk is measured: a download put in place meanwhile is counted twice
      // (more removed than needed), never not at all.
      const room = this.maxBytes - this.reserved - bytes;
      if (room < 0) {
        throw new PackTooLargeError(
          `the pack of ${sha} (${bytes} bytes) does not fit now: ${this.reserved} of the cache's ` +
            `${this.maxBytes} bytes are promised to downloads under way`,
          false,
        );
      }
      await this.removeOldest(await this.commits(), room, this.holding);
      this.reserved += bytes;
      return bytes;
    });
    this.bounding = pass.catch(() => undefined);
    return pass;
  }

  /**
   * Removes the least recently used commits of every repository, `kept` and those being held
   * excepted, while the cache
   * holds more than its size beside the downloads under way. Every pass measures what is on disk,
   * so nothing drifts over restarts.
   */
  private bound(kept: string): Promise<void> {
    const pass = this.bounding.then(async () => {
      const spared = new Set([...this.holding, kept]);
      await this.removeOldest(await this.commits(), this.maxBytes - this.reserved, spared);
    });
    this.bounding = pass.catch(() => undefined);
    return pass;
  }

  /** Every commit of every repository in the cache, measured on disk. */
  private async commits(): Promise<CachedItem[]> {
    const repositories = (await readdir(this.rootDir).catch(() => [] as string[]))
      .filter((name) => name.endsWith('.packs'))
      .map((name) => join(this.rootDir, name));
    return (await Promise.all(repositories.map(commitsIn))).flat();
  }

  /** Removes the least recently used of `commits`, `spared` excepted, to hold at most `maxBytes`. */
  private async removeOldest(
    commits: CachedItem[],
    maxBytes: number,
    spared: ReadonlySet<string>,
  ): Promise<void> {
    // A checkout copying from one being removed fails and falls back to git's protocol.
    for (const { path } of evictions(commits, { maxBytes }, spared)) {
      await rm(path, { recursive: true, force: true });
    }
  }

  /** Removes the repository's least recently used commits beyond {@link keep}. */
  private async trim(repository: string, kept: string): Promise<void> {
    const commits = await commitsIn(repository);
    // A checkout copying from one being removed fails and falls back to git's protocol.
    const spared = new Set([...this.holding, join(repository, kept)]);
    for (const { path } of evictions(commits, { maxItems: this.keep }, spared)) {
      await rm(path, { recursive: true, force: true });
    }
  }

  /** Once per repository and agent: the downloads a killed agent left half-made. */
  private sweep(key: string, repository: string): Promise<void> {
    let swept = this.swept.get(key);
    if (swept === undefined) {
      swept = readdir(repository)
        .catch(() => [] as string[])
        .then(async (names) => {
          const left = names.filter((name) => name.endsWith(TEMP_SUFFIX));
          await Promise.all(
            left.map((name) => rm(join(repository, name), { recursive: true, force: true })),
          );
        });
      this.swept.set(key, swept);
    }
    return swept;
  }

  /** Drops a commit's pack (one that did not check out): the next task downloads it again. */
  async evict(key: string, sha: string): Promise<void> {
    await rm(join(this.rootDir, `${key}.packs`, sha), { recursive: true, force: true });
  }
}

/**
 * Makes the empty `workspace` a repository (`git init`): what a checkout from a pack starts from.
 * It needs nothing of the pack, so it is done while the pack is downloaded. Without git's
 * templates (sample hooks, a description), which no build uses: copying them was 2 of the 7 ms
 * an init takes alone, and more beside a launch.
 */
export async function initRepository(workspace: string): Promise<void> {
  await sharedLauncher().run('git', ['init', '-q', '--template='], {
    cwd: workspace,
    env: gitEnv(),
  });
}

/**
 * Makes the repository `initRepository` left in `workspace` a shallow checkout of `sha` from a
 * copy of its pack: the agent's cache stays the agent's (a copy, not a link: the task owns what is
 * in its workspace). The checkout itself runs as `by` says, and `stop` ends one by the
 * task's user ({@link checkOutCommit}).
 */
export async function checkoutFromPack(
  workspace: string,
  cached: CachedPack,
  sha: string,
  by: CheckoutBy | undefined,
  stop?: AbortSignal,
): Promise<void> {
  const git = join(workspace, '.git');
  const packs = join(git, 'objects', 'pack');
  await mkdir(packs, { recursive: true });
  await Promise.all([
    copyFile(cached.pack, join(packs, basename(cached.pack))),
    copyFile(cached.index, join(packs, basename(cached.index))),
    // The commit's parents are not there: git is told so, as `fetch --depth 1` tells it.
    writeFile(join(git, 'shallow'), `${sha}\n`),
  ]);
  await checkOutCommit(workspace, sha, by, stop);
}

/** The commits of a repository's directory, each with its size and when it was last used. */
async function commitsIn(repository: string): Promise<CachedItem[]> {
  const names = await readdir(repository).catch(() => [] as string[]);
  return Promise.all(
    names.filter((name) => COMMIT_DIR.test(name)).map((name) => measure(join(repository, name))),
  );
}

/** A commit directory's size and when it was last used; zeros for one that went meanwhile. */
async function measure(path: string): Promise<CachedItem> {
  const names = await readdir(path).catch(() => [] as string[]);
  const sizes = await Promise.all(
    names.map(async (name) => (await stat(join(path, name)).catch(() => undefined))?.size ?? 0),
  );
  const usedMs = (await stat(path).catch(() => undefined))?.mtimeMs ?? 0;
  return { path, bytes: sizes.reduce((sum, size) => sum + size, 0), usedMs };
}

/**
 * Downloads the commit's pack to `path`, once `room` has made room for the length the server
 * announced and said how many bytes may be written; fails once it is over that, keeping no more.
 * An answer of no known length (a proxy's doing: Kiln's server announces it) is not kept: room
 * for it could only be made by emptying the cache.
 */
async function download(
  source: PackSource,
  path: string,
  room: (announced: number) => Promise<number>,
  signal?: AbortSignal,
): Promise<void> {
  const headers: Record<string, string> = { accept: 'application/x-git-packfile' };
  const authorization = basicAuthorization(source);
  if (authorization !== undefined) headers.authorization = authorization;
  const response = await fetch(source.packUrl, { headers, ...(signal ? { signal } : {}) });
  if (!response.ok || response.body === null) {
    const text = (await response.text().catch(() => '')).trim().slice(0, 500);
    throw new Error(`the server answered ${response.status}${text === '' ? '' : `: ${text}`}`);
  }
  const announced = Number(response.headers.get('content-length') ?? Number.NaN);
  // Encoded, the length announced is not the length of the pack that fetch decodes.
  const known =
    Number.isSafeInteger(announced) && announced >= 0 && !response.headers.has('content-encoding');
  let maxBytes: number;
  try {
    if (!known) {
      throw new PackTooLargeError(
        `the server announced no length for the pack of ${source.sha}: it is not kept`,
        false,
      );
    }
    maxBytes = await room(announced);
  } catch (error) {
    await response.body.cancel().catch(() => undefined);
    throw error;
  }
  let bytes = 0;
  // What the server announced, checked as it comes.
  const capped = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      if (bytes > maxBytes) {
        done(
          new PackTooLargeError(
            `the pack of ${source.sha} is longer than the ${maxBytes} bytes its server announced`,
            false,
          ),
        );
      } else {
        done(null, chunk);
      }
    },
  });
  await pipeline(
    Readable.fromWeb(response.body as WebReadableStream<Uint8Array>),
    capped,
    createWriteStream(path, { mode: 0o600 }),
  );
}

function tooLarge(sha: string, maxBytes: number, lasting: boolean): PackTooLargeError {
  return new PackTooLargeError(`the pack of ${sha} is over the cache's ${maxBytes} bytes`, lasting);
}

/** Indexes a downloaded pack beside it (`download.idx`), checking every object; its name. */
async function indexPack(pack: string): Promise<string> {
  const dir = dirname(pack);
  const { stdout } = await sharedLauncher().run(
    'git',
    // No reverse index: what it speeds up (object sizes in order) no checkout reads.
    ['-c', 'pack.writeReverseIndex=false', 'index-pack', '-o', join(dir, 'download.idx'), pack],
    // Outside any repository, whatever encloses the agent's data directory.
    { cwd: dir, env: { ...gitEnv(), GIT_CEILING_DIRECTORIES: dirname(dir) } },
  );
  const name = stdout.trim();
  if (!/^[0-9a-f]{40}$/.test(name)) throw new Error(`git index-pack printed ${name}`);
  return name;
}

async function findPack(dir: string): Promise<CachedPack | undefined> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const index = names.find((name) => /^pack-[0-9a-f]+\.idx$/.test(name));
  const pack = index?.replace(/\.idx$/, '.pack');
  if (index === undefined || pack === undefined || !names.includes(pack)) return undefined;
  return { pack: join(dir, pack), index: join(dir, index) };
}
