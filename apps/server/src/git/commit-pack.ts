import {
  errorMessage,
  evictions,
  gitEnv,
  RunError,
  sharedLauncher,
  type CachedItem,
} from '@kiln/common';
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat, utimes } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';

/** The media type git's own protocols give a pack. */
export const PACK_MEDIA_TYPE = 'application/x-git-packfile';

/**
 * Packs kept per mirror, the most recently used: those of a few recent pushes, whose runs' jobs
 * and reruns are what asks. Each holds a whole tree, so a large repository's take room.
 */
const DEFAULT_KEPT_PACKS = 8;
/** What every mirror's packs may take together by default. */
export const DEFAULT_MIRROR_PACKS_BYTES = 4 * 1024 ** 3;
/** Where a mirror's packs are kept, inside it: git leaves what it does not know alone. */
const PACKS_DIR = 'kiln-packs';
/** Packs written at once: each `git pack-objects` uses every core already. */
const MAX_WRITING = 2;
/** A pack not written by then is given up on (its git programs killed). */
const WRITE_TIMEOUT_MS = 10 * 60_000;
/** A half-made pack older than this was left by a server that died making it. */
const STALE_TEMP_MS = 6 * WRITE_TIMEOUT_MS;

/** A commit could not be packed: git's words. */
export class CommitPackError extends Error {}

/** How many packs are kept: the least recently used go first. */
export interface CommitPacksLimits {
  /** Packs per mirror; default 8. */
  perMirror?: number;
  /** Bytes of every mirror's packs together (the mirrors beside this one); default 4 GiB. */
  maxBytes?: number;
}

/**
 * Commits as packs, made once per commit and kept as files in their mirror
 * (`<mirror>/kiln-packs/<sha>.pack`): the commit and every object of its tree, none of its
 * history, which is what `git fetch --depth 1` of it transfers. An agent downloads one with a
 * plain GET and indexes it with `git index-pack`, which checks every object's id (see the agent's
 * `PackCache`). A commit's tree is packed once, however many jobs and agents ask (each did before),
 * and the trigger has it made as soon as it has read `.kiln.yml`, while the run's jobs are offered
 * and launched, so that their agents download a file rather than wait for git to pack it.
 *
 * `git rev-list --objects --no-walk` lists the objects and `git pack-objects` packs them (git's own
 * pack writer, deltas included) into a temporary file, renamed into place once both succeeded: a
 * listing that failed part-way would make a valid pack of fewer objects, and is never kept.
 */
export class CommitPacks {
  /** Packs being made, by path: concurrent askers share one making. */
  private readonly making = new Map<string, Promise<string>>();
  private writing = 0;
  /** Makings waiting for one of the {@link MAX_WRITING} slots, first come first served. */
  private readonly waiting: Array<() => void> = [];

  private readonly limits: Required<CommitPacksLimits>;

  constructor(limits: CommitPacksLimits = {}) {
    this.limits = {
      perMirror: limits.perMirror ?? DEFAULT_KEPT_PACKS,
      maxBytes: limits.maxBytes ?? DEFAULT_MIRROR_PACKS_BYTES,
    };
  }

  /** The path of the commit's pack in the mirror `repositoryDir`, made first if need be. */
  packOf(repositoryDir: string, sha: string): Promise<string> {
    const dir = join(repositoryDir, PACKS_DIR);
    const path = join(dir, `${sha}.pack`);
    let made = this.making.get(path);
    if (made === undefined) {
      made = this.find(path)
        .then(async (found) => found ?? (await this.make(repositoryDir, sha, dir, path)))
        .finally(() => this.making.delete(path));
      this.making.set(path, made);
    }
    return made;
  }

  /** Answers with the commit's pack: 200 and the file, or 500 naming the commit it cannot pack. */
  async serve(repositoryDir: string, sha: string, response: ServerResponse): Promise<void> {
    let path: string;
    try {
      path = await this.packOf(repositoryDir, sha);
    } catch (error) {
      if (response.destroyed) return;
      response.statusCode = 500;
      response.setHeader('content-type', 'text/plain; charset=utf-8');
      response.end(`${(error as Error).message}\n`);
      return;
    }
    // Opened before the answer starts: a pack removed meanwhile is still read whole.
    const file = await open(path, 'r');
    try {
      response.statusCode = 200;
      response.setHeader('content-type', PACK_MEDIA_TYPE);
      response.setHeader('content-length', String((await file.stat()).size));
      response.setHeader('cache-control', 'no-store');
      // An agent that goes away mid-download only ends this pipeline.
      await pipeline(file.createReadStream({ autoClose: false }), response).catch(() => undefined);
    } finally {
      await file.close();
    }
  }

  /** The pack, if it is there; used now, so it is the last to be removed. */
  private async find(path: string): Promise<string | undefined> {
    const now = new Date();
    return utimes(path, now, now).then(
      () => path,
      () => undefined,
    );
  }

  private async make(repositoryDir: string, sha: string, dir: string, path: string) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const temp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await this.inSlot(() => writePack(repositoryDir, sha, temp));
      await rename(temp, path);
    } finally {
      await rm(temp, { force: true });
    }
    await this.trim(repositoryDir, path);
    return path;
  }

  private async inSlot<T>(work: () => Promise<T>): Promise<T> {
    while (this.writing >= MAX_WRITING) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.writing += 1;
    try {
      return await work();
    } finally {
      this.writing -= 1;
      this.waiting.shift()?.();
    }
  }

  /**
   * Removes the least recently used packs beyond the limits, of this mirror and of all the mirrors
   * beside it, `kept` excepted, and the half-made ones a server that died left.
   */
  private async trim(repositoryDir: string, kept: string): Promise<void> {
    const mirrors = dirname(repositoryDir);
    const siblings = (await readdir(mirrors).catch(() => [] as string[])).map((name) =>
      join(mirrors, name),
    );
    // This mirror's first: its own packs are read once, for both bounds.
    const [own = [], ...others] = await Promise.all(
      [...new Set([repositoryDir, ...siblings])].map((mirror) => itemsIn(join(mirror, PACKS_DIR))),
    );
    const all = [own, ...others];
    const now = Date.now();
    const stale = all
      .flat()
      .filter((i) => i.path.endsWith('.tmp') && now - i.usedMs > STALE_TEMP_MS);
    const packsOf = (items: CachedItem[]) => items.filter((i) => i.path.endsWith('.pack'));
    const removed = [
      ...stale,
      ...evictions(packsOf(own), { maxItems: this.limits.perMirror }, kept),
      ...evictions(packsOf(all.flat()), { maxBytes: this.limits.maxBytes }, kept),
    ];
    for (const { path } of removed) await rm(path, { force: true });
  }
}

/** The files of a directory, each with its size and when it was last used. */
async function itemsIn(dir: string): Promise<CachedItem[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const items = await Promise.all(
    names.map(async (name) => {
      const found = await stat(join(dir, name)).catch(() => undefined);
      return found?.isFile() === true
        ? { path: join(dir, name), bytes: found.size, usedMs: found.mtimeMs }
        : undefined;
    }),
  );
  return items.filter((item) => item !== undefined);
}

/**
 * Packs `sha` of `repositoryDir` into the file `path` with git's own program, durably: a pack
 * renamed into place is served as it is from then on. `--shallow` stops the walk at the commit,
 * as upload-pack does for `fetch --depth 1`. Run from the launcher (see launcher.ts): the shell
 * makes the file, the server's only, and is then replaced by `git pack-objects`.
 */
async function writePack(repositoryDir: string, sha: string, path: string): Promise<void> {
  try {
    await sharedLauncher().run(
      '/bin/sh',
      ['-c', 'umask 077 && set -C && exec git pack-objects --revs --stdout -q > "$1"', 'sh', path],
      {
        cwd: repositoryDir,
        env: { ...gitEnv(), GIT_DIR: repositoryDir },
        input: `--shallow ${sha}\n${sha}\n`,
        timeoutMs: WRITE_TIMEOUT_MS,
      },
    );
  } catch (error) {
    const why =
      error instanceof RunError && error.timedOut
        ? `not packed within ${WRITE_TIMEOUT_MS / 60_000} minutes`
        : (error instanceof RunError ? error.stderr : errorMessage(error)).trim() || 'no output';
    throw new CommitPackError(`cannot pack ${sha}: ${why}`);
  }
  const written = await open(path, 'r');
  try {
    await written.sync();
  } finally {
    await written.close();
  }
}
