import {
  errorMessage,
  gitEnv,
  KeyedMutex,
  redactUrl,
  RunError,
  sharedLauncher,
  TimeoutError,
  withTimeout,
} from '@kiln/common';
import { Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CatFileBatch, findTreeEntry, type GitObject } from './cat-file-batch';

/** Credentials for http(s) clone URLs. Sent per command; never written to disk or git config. */
export interface GitAuth {
  username: string;
  password: string;
}

/** A git operation failed: what, for which repository (URL redacted), and git's own words. */
export class GitMirrorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GitMirrorError';
  }
}

/**
 * What a commit holds is refused (a file, a directory or the commit itself over its limit, or an
 * object git's checks find malformed): it is the same on every attempt, so it is no failure to
 * retry, unlike a forge that does not answer.
 */
export class GitContentRefused extends GitMirrorError {
  constructor(message: string) {
    super(message);
    this.name = 'GitContentRefused';
  }
}

const KEY = /^[A-Za-z0-9_-]+$/;
const SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/i;
const ALL_ZERO = /^0+$/;
const SCP_LIKE_URL = /^[A-Za-z0-9._~-]+@[A-Za-z0-9.-]+:[^\s]+$/;
const URL_SCHEMES = new Set(['http:', 'https:', 'git:', 'ssh:', 'file:']);
/** A `.kiln.yml` is a few kilobytes: anything this big is a mistake or an attack on memory. */
const MAX_FILE_BYTES = 1024 * 1024;
/**
 * A commit whose author and message are read (a run started by hand or by a schedule). Its
 * message is kept to 64 KiB; a bigger object is a message of megabytes, which git prints whole
 * and would be held whole here: a push of 880 KB made one of 200 MB (22 s, half a gigabyte).
 */
const MAX_COMMIT_BYTES = 1024 * 1024;
/**
 * A directory listed on the way to a file is read whole into the server's memory: 16 MiB is some
 * 400,000 entries, far more than any real directory, where a push of a few megabytes can make a
 * tree of gigabytes (its entries compress to almost nothing).
 */
const MAX_TREE_BYTES = 16 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 60_000;
/** How long after a fetch a mirror is maintained (see `maintainLater`). */
const MAINTENANCE_DELAY_MS = 30_000;
/**
 * What a git command may print: a commit's message of up to {@link MAX_COMMIT_BYTES}, re-encoded
 * to UTF-8, or the names of the files a push changed.
 */
const MAX_OUTPUT_BYTES = 16 * 1024 * 1024;
/** Long-lived object readers kept at once (one per recently used repository). */
const MAX_READERS = 16;
/** Commits fetched by id are kept under a ref so that `git gc` does not prune them. */
const FETCHED_COMMITS = 'refs/kiln/commits/';
/**
 * A namespace per commit (named by its id) holding one ref to it: what a task's fetch over git's
 * smart HTTP sees of the mirror (see `serveUploadPack`).
 */
const COMMIT_NAMESPACES = 'refs/namespaces/';
const NAMESPACED_COMMIT = 'refs/kiln/commit';
/**
 * Commits remembered as named, per mirror: past it, the memory starts again (a commit asked for
 * again is named again, which git does as a no-op).
 */
const MAX_NAMED_COMMITS = 10_000;
/** The refs a push or pull request names, which a fetched commit is stored as. */
const PUSHED_REF = /^refs\/(heads|tags|pull|merge-requests|pull-requests)\//;

/** One repository as seen by one call: where its mirror lives and how to reach its remote. */
interface Remote {
  key: string;
  dir: string;
  url: string;
  auth?: GitAuth;
}

/**
 * Bare mirrors of the repositories the server builds, one per repository in
 * `<rootDir>/<key>.git`, filled on demand so the server can read a file at the exact commit of a
 * push. A commit already in the mirror is read without touching the network.
 *
 * Thread-safety: calls may run concurrently. Writes to a mirror (creating it, fetching into it)
 * are serialized per key within this process; reads run in parallel with each other and with
 * fetches, which git makes safe by writing objects before the refs that name them.
 */
export class GitMirror {
  private readonly logger = new Logger(GitMirror.name);
  private readonly writes = new KeyedMutex();
  private readonly batches = new Map<string, CatFileBatch>();
  /**
   * The commits whose namespace each mirror (by key) holds, named by this process: both requests
   * of a task's fetch over smart HTTP ask for the namespace, and a name made once stays (nothing
   * removes one but the mirror's own re-creation).
   */
  private readonly named = new Map<string, Set<string>>();
  /** Mirrors fetched into whose maintenance is due, by key. */
  private readonly maintenance = new Map<string, NodeJS.Timeout>();
  private readonly timeoutMs: number;
  private readonly maxTreeBytes: number;
  private readonly maintenanceDelayMs: number;

  constructor(
    private readonly rootDir: string,
    options: { timeoutMs?: number; maxTreeBytes?: number; maintenanceDelayMs?: number } = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.maxTreeBytes = options.maxTreeBytes ?? MAX_TREE_BYTES;
    this.maintenanceDelayMs = options.maintenanceDelayMs ?? MAINTENANCE_DELAY_MS;
  }

  /**
   * The file's text at that commit; undefined when the commit has no such file (or the path is a
   * directory, a symlink or a submodule). Fetches the commit when the mirror lacks it; throws
   * {@link GitMirrorError} when the commit cannot be found on the remote.
   */
  async readFile(
    key: string,
    cloneUrl: string,
    sha: string,
    path: string,
    auth?: GitAuth,
    ref?: string,
  ): Promise<string | undefined> {
    const bytes = await this.readBytes(key, cloneUrl, sha, path, auth, ref);
    return bytes?.toString('utf8');
  }

  /** As {@link readFile}, the bytes as stored: for a reader that must refuse what is not UTF-8. */
  async readBytes(
    key: string,
    cloneUrl: string,
    sha: string,
    path: string,
    auth?: GitAuth,
    ref?: string,
  ): Promise<Buffer | undefined> {
    const commit = checkSha(sha);
    checkPath(path);
    if (ref !== undefined) checkRef(ref);
    const remote = await this.open(key, cloneUrl, auth);
    await this.requireCommit(remote, commit, ref);
    const entry = await this.lookUp(remote, commit, path);
    if (entry === undefined || (entry.mode !== '100644' && entry.mode !== '100755')) {
      return undefined;
    }
    const batch = this.batchFor(remote);
    const info = await this.withDeadline(remote, batch.info(entry.oid), `size up ${path}`);
    if (info === undefined) return undefined;
    if (info.size > MAX_FILE_BYTES) {
      throw new GitContentRefused(
        `${path} at ${commit} of ${redactUrl(cloneUrl)} is ${info.size} bytes, over the limit of ${MAX_FILE_BYTES}`,
      );
    }
    const blob = await this.withDeadline(remote, batch.contents(entry.oid), `read ${path}`);
    return blob?.content;
  }

  /**
   * The mirror's directory, holding `sha` (fetched if it lacks it): where agents fetch a task's
   * commit from, so that each commit leaves the forge once and forge tokens never reach agents.
   */
  async withCommit(
    key: string,
    cloneUrl: string,
    sha: string,
    auth?: GitAuth,
    ref?: string,
  ): Promise<string> {
    const commit = checkSha(sha);
    if (ref !== undefined) checkRef(ref);
    const remote = await this.open(key, cloneUrl, auth);
    await this.requireCommit(remote, commit, ref);
    return remote.dir;
  }

  /**
   * As {@link withCommit}, with a namespace of the mirror whose one ref is `sha`: a fetch served
   * in it (see `serveUploadPack`) gets that commit and its history, nothing else the mirror holds.
   */
  async withCommitNamespace(
    key: string,
    cloneUrl: string,
    sha: string,
    auth?: GitAuth,
    ref?: string,
  ): Promise<{ dir: string; namespace: string }> {
    const commit = checkSha(sha);
    const dir = await this.withCommit(key, cloneUrl, commit, auth, ref);
    const named = this.named.get(key) ?? new Set<string>();
    this.named.set(key, named);
    if (!named.has(commit)) {
      const name = `${COMMIT_NAMESPACES}${commit}/${NAMESPACED_COMMIT}`;
      await this.writes.run(key, async () => {
        // Another request of the same fetch may have named it while this one waited.
        if (named.has(commit)) return;
        await this.git({ key, dir, url: cloneUrl }, ['update-ref', name, commit], `name ${commit}`);
        if (named.size >= MAX_NAMED_COMMITS) named.clear();
        named.add(commit);
      });
    }
    return { dir, namespace: commit };
  }

  /** Stops the mirrors' reader processes; the maintenance due is left to the next start. */
  onApplicationShutdown(): void {
    for (const batch of this.batches.values()) batch.close();
    this.batches.clear();
    for (const timer of this.maintenance.values()) clearTimeout(timer);
    this.maintenance.clear();
  }

  /** The tree entry of `path` at `commit` (walking its directories), or undefined. */
  private async lookUp(
    remote: Remote,
    commit: string,
    path: string,
  ): Promise<{ mode: string; oid: string } | undefined> {
    const parts = path.split('/');
    let tree = `${commit}^{tree}`;
    for (const [i, part] of parts.entries()) {
      const listing = await this.readTree(remote, commit, tree, parts.slice(0, i).join('/'));
      if (listing === undefined) return undefined;
      const entry = findTreeEntry(listing.content, listing.object.oid.length / 2, part);
      if (entry === undefined || i === parts.length - 1) return entry;
      if (entry.mode !== '40000') return undefined;
      tree = entry.oid;
    }
    return undefined;
  }

  /**
   * The tree `name` (the directory `dir` of `commit`), sized up before it is read: one bigger
   * than {@link maxTreeBytes} is refused rather than held in memory and searched.
   */
  private async readTree(
    remote: Remote,
    commit: string,
    name: string,
    dir: string,
  ): Promise<{ object: GitObject; content: Buffer } | undefined> {
    const batch = this.batchFor(remote);
    const shown = dir === '' ? 'the root directory' : `the directory ${dir}`;
    const info = await this.withDeadline(remote, batch.info(name), `size up ${shown}`);
    if (info?.type !== 'tree') return undefined;
    if (info.size > this.maxTreeBytes) {
      throw new GitContentRefused(
        `${shown} at ${commit} of ${redactUrl(remote.url)} lists ${info.size} bytes of entries, over the limit of ${this.maxTreeBytes}`,
      );
    }
    return this.withDeadline(remote, batch.contents(info.oid), `list ${shown}`);
  }

  /** The mirror's long-lived object reader; a few are kept, the least recently used go. */
  private batchFor(remote: Remote): CatFileBatch {
    let batch = this.batches.get(remote.key);
    if (batch !== undefined && batch.alive) {
      // Map order is use order: move it to the end.
      this.batches.delete(remote.key);
      this.batches.set(remote.key, batch);
      return batch;
    }
    batch = new CatFileBatch(remote.dir, gitEnv());
    this.batches.set(remote.key, batch);
    if (this.batches.size > MAX_READERS) {
      const [oldest, reader] = this.batches.entries().next().value as [string, CatFileBatch];
      reader.close();
      this.batches.delete(oldest);
    }
    return batch;
  }

  /** A reader that does not answer within the timeout is closed; the next call starts another. */
  private async withDeadline<T>(remote: Remote, answer: Promise<T>, what: string): Promise<T> {
    try {
      return await withTimeout(answer, this.timeoutMs);
    } catch (error) {
      const batch = this.batches.get(remote.key);
      if (error instanceof TimeoutError && batch !== undefined) {
        batch.close();
        this.batches.delete(remote.key);
      }
      throw new GitMirrorError(
        redact(`cannot ${what} of ${redactUrl(remote.url)}: ${errorMessage(error)}`, remote),
      );
    }
  }

  /** The commit a branch (or tag, or full ref) points to on the remote now (fetches). */
  async resolveRef(key: string, cloneUrl: string, ref: string, auth?: GitAuth): Promise<string> {
    checkRef(ref);
    const remote = await this.open(key, cloneUrl, auth);
    const candidates = ref.startsWith('refs/') ? [ref] : [`refs/heads/${ref}`, `refs/tags/${ref}`];
    const advertised = await this.git(
      remote,
      ['ls-remote', remote.url, ...candidates],
      `list ref ${ref}`,
    );
    const names = new Set(advertised.split('\n').map((line) => line.split('\t')[1]));
    const name = candidates.find((candidate) => names.has(candidate));
    if (name === undefined) {
      throw new GitMirrorError(`${redactUrl(cloneUrl)} has no branch or tag ${ref}`);
    }
    return this.writes.run(key, async () => {
      await this.fetch(remote, ['--no-tags', remote.url, `+${name}:${name}`], `fetch ${name}`);
      const resolved = await this.git(
        remote,
        ['rev-parse', '--verify', `${name}^{commit}`],
        `resolve ${name}`,
      );
      return resolved.trim();
    });
  }

  /** A commit's author (name) and message, fetching the commit when the mirror lacks it. */
  async commitInfo(
    key: string,
    cloneUrl: string,
    sha: string,
    auth?: GitAuth,
  ): Promise<{ author: string; message: string }> {
    const commit = checkSha(sha);
    const remote = await this.open(key, cloneUrl, auth);
    await this.requireCommit(remote, commit);
    const info = await this.withDeadline(
      remote,
      this.batchFor(remote).info(commit),
      `size up ${commit}`,
    );
    if (info !== undefined && info.size > MAX_COMMIT_BYTES) {
      throw new GitContentRefused(
        `the commit ${commit} of ${redactUrl(cloneUrl)} is ${info.size} bytes, over the limit of ${MAX_COMMIT_BYTES}`,
      );
    }
    // NUL never appears in a name or a message: git refuses it in both.
    const shown = await this.git(
      remote,
      ['show', '--no-patch', '--format=%an%x00%B', commit, '--'],
      `read commit ${commit}`,
    );
    const [author = '', ...rest] = shown.split('\0');
    return { author, message: rest.join('\0').trimEnd() };
  }

  /**
   * Paths changed between two commits (`git diff --name-only from to`, renames listed as a delete
   * and an add), fetching both as needed; undefined when `from` is all-zero (a new branch) or not
   * on the remote (history rewritten by a force push).
   */
  async changedFiles(
    key: string,
    cloneUrl: string,
    from: string,
    to: string,
    auth?: GitAuth,
  ): Promise<string[] | undefined> {
    const base = checkSha(from);
    const target = checkSha(to);
    const remote = await this.open(key, cloneUrl, auth);
    await this.requireCommit(remote, target);
    if (ALL_ZERO.test(base) || !(await this.ensureCommit(remote, base))) return undefined;
    const diff = await this.git(
      remote,
      ['diff', '--name-only', '--no-renames', '--no-ext-diff', '-z', base, target, '--'],
      `compare ${base} with ${target}`,
    );
    return diff.split('\0').filter((path) => path !== '');
  }

  /** Validates the repository's key and URL, and makes sure its mirror exists. */
  private async open(key: string, url: string, auth: GitAuth | undefined): Promise<Remote> {
    if (!KEY.test(key)) throw new GitMirrorError(`invalid repository key ${JSON.stringify(key)}`);
    checkUrl(url);
    const remote: Remote = { key, dir: join(this.rootDir, `${key}.git`), url, auth };
    if (!isRepository(remote.dir)) {
      await this.writes.run(key, () => this.create(remote));
    }
    return remote;
  }

  /**
   * Creates the bare mirror in a temporary directory and renames it into place, so a crash never
   * leaves a half-made mirror under the real name. A directory that is there but is not a
   * repository (made some other way, or damaged) is replaced.
   */
  private async create(remote: Remote): Promise<void> {
    if (isRepository(remote.dir)) return;
    await mkdir(this.rootDir, { recursive: true });
    const tempPrefix = `.${remote.key}.git.`;
    for (const entry of await readdir(this.rootDir)) {
      if (entry.startsWith(tempPrefix)) {
        await rm(join(this.rootDir, entry), { recursive: true, force: true });
      }
    }
    await rm(remote.dir, { recursive: true, force: true });
    this.named.delete(remote.key);
    const temp = join(this.rootDir, `${tempPrefix}${randomBytes(6).toString('hex')}`);
    await this.git({ ...remote, dir: this.rootDir }, ['init', '--bare', temp], 'create the mirror');
    await rename(temp, remote.dir);
  }

  private async requireCommit(remote: Remote, sha: string, ref?: string): Promise<void> {
    if (!(await this.ensureCommit(remote, sha, ref))) {
      throw new GitMirrorError(`${redactUrl(remote.url)} has no commit ${sha}`);
    }
  }

  /** Whether the commit is in the mirror, fetching it if needed; false when the remote lacks it. */
  private async ensureCommit(remote: Remote, sha: string, ref?: string): Promise<boolean> {
    if (await this.hasCommit(remote, sha)) return true;
    return this.writes.run(remote.key, async () => {
      // Another caller may have fetched it while this one waited.
      if (await this.hasCommit(remote, sha)) return true;
      const pushedRef = ref !== undefined && PUSHED_REF.test(ref) ? ref : undefined;
      // By id first: one request and one answer, where a ref would first be looked up in the
      // remote's listing (a second round trip, ~45 ms against git daemon). Servers speaking
      // protocol v2 (GitHub's, GitLab's, Gitea's, git's own) give any commit they have. It is
      // stored as the ref the push named, so the mirror keeps one ref per branch rather than
      // one per commit; a commit no ref names is kept under refs/kiln/commits/ so gc keeps it.
      const kept = `${FETCHED_COMMITS}${sha}`;
      const byId = async (ref: string) =>
        (await this.fetched(remote, `+${sha}:${ref}`, `fetch commit ${sha}`)) &&
        (await this.hasCommit(remote, sha));
      if (await byId(pushedRef ?? kept)) return true;
      // The pushed ref may clash with one the mirror kept of a deleted branch (`a` and `a/b`).
      if (pushedRef !== undefined && (await byId(kept))) return true;
      // Servers that only give what they advertise (protocol v0) refuse a commit by id: the ref
      // the push named usually points at it, and failing that, every branch and tag.
      if (pushedRef !== undefined) {
        const fetched = await this.fetched(
          remote,
          `+${pushedRef}:${pushedRef}`,
          `fetch ${pushedRef}`,
        );
        if (fetched && (await this.hasCommit(remote, sha))) return true;
      }
      await this.fetch(
        remote,
        [
          '--no-tags',
          // Branches the remote deleted go: one of them could clash with a new one.
          '--prune',
          remote.url,
          '+refs/heads/*:refs/heads/*',
          '+refs/tags/*:refs/tags/*',
        ],
        `fetch branches and tags looking for ${sha}`,
      );
      return this.hasCommit(remote, sha);
    });
  }

  /**
   * Fetches one refspec from the remote; false when git fails (the caller has another way), but
   * for objects git refuses ({@link GitContentRefused}), which another way would only fetch again.
   */
  private fetched(remote: Remote, refspec: string, what: string): Promise<boolean> {
    return this.fetch(remote, ['--no-tags', remote.url, refspec], what).then(
      () => true,
      (error: unknown) => {
        if (error instanceof GitContentRefused) throw error;
        return false;
      },
    );
  }

  private async hasCommit(remote: Remote, sha: string): Promise<boolean> {
    const object = await this.withDeadline(
      remote,
      this.batchFor(remote).info(`${sha}^{commit}`),
      `look up ${sha}`,
    );
    return object?.type === 'commit';
  }

  /**
   * `git fetch` into the mirror, without the maintenance git runs at the end of a fetch (a program
   * start, and at times a repack, that the run waiting for its `.kiln.yml` would wait for): the
   * mirror is maintained a while later instead, once for the fetches meanwhile.
   */
  private async fetch(remote: Remote, args: string[], what: string): Promise<string> {
    const fetched = await this.git(remote, ['fetch', '--no-auto-maintenance', ...args], what);
    this.maintainLater(remote);
    return fetched;
  }

  /**
   * `git maintenance run --auto` in the mirror {@link maintenanceDelayMs} after a fetch: what
   * git does at the end of a fetch (pack loose objects and packs once there are many, gc), once
   * for all the fetches meanwhile. A failure is logged; the next fetch asks again.
   */
  private maintainLater(remote: Remote): void {
    if (this.maintenance.has(remote.key)) return;
    const timer = setTimeout(() => {
      this.maintenance.delete(remote.key);
      this.writes
        .run(remote.key, () =>
          this.git(remote, ['maintenance', 'run', '--auto'], 'maintain the mirror'),
        )
        .catch((error: unknown) => this.logger.warn(errorMessage(error)));
    }, this.maintenanceDelayMs);
    // Never what keeps a process from ending.
    timer.unref();
    this.maintenance.set(remote.key, timer);
  }

  /**
   * Runs one git command in `remote.dir`, ended after the timeout: from the process's launcher
   * (see launcher.ts), as a fork of the server would stall its event loop, webhooks and the build
   * framework's calls with it, for 10 to 40 ms here.
   */
  private async git(remote: Remote, args: string[], what: string): Promise<string> {
    // Every object fetched is checked as git checks a push it receives: a malformed tree or
    // commit (which a forge that does not check pushes lets in) goes no further, neither into
    // the mirror nor to the agents that check commits out of it, as root on their hosts.
    const config: string[] = ['fetch.fsckObjects=true'];
    if (remote.auth !== undefined && /^https?:/i.test(remote.url)) {
      config.push(`http.extraHeader=Authorization: Basic ${basicCredentials(remote.auth)}`);
    }
    try {
      const { stdout } = await sharedLauncher().run(
        'git',
        [...config.flatMap((setting) => ['-c', setting]), ...args],
        {
          cwd: remote.dir,
          env: gitEnv(),
          timeoutMs: this.timeoutMs,
          outputBytes: MAX_OUTPUT_BYTES,
        },
      );
      return stdout;
    } catch (error) {
      const timedOut = error instanceof RunError && error.timedOut;
      const said =
        error instanceof RunError && error.stderr.trim() !== ''
          ? error.stderr
          : errorMessage(error);
      const why = timedOut ? `timed out after ${this.timeoutMs} ms` : gitLine(said);
      const message = redact(`cannot ${what} of ${redactUrl(remote.url)}: ${why}`, remote);
      // The same objects are refused the same way every time: no retry will fetch them.
      const malformed = !timedOut && said.split('\n').some((line) => FSCK_ERROR.test(line));
      throw malformed ? new GitContentRefused(message) : new GitMirrorError(message);
    }
  }
}

/** What git says of an object its checks refuse: `error: object <id>: <check>: <what>`. */
const FSCK_ERROR = /^error: object [0-9a-f]+: \w+: /;

/**
 * The line of git's stderr that says what went wrong (`fatal:` first), not its progress chatter;
 * with the object a check refused, when that is why.
 */
function gitLine(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  const fatal = lines.find((line) => line.startsWith('fatal:'));
  const refused = lines.find((line) => FSCK_ERROR.test(line));
  if (fatal !== undefined && refused !== undefined) return `${fatal} (${refused})`;
  return fatal ?? lines.find((line) => line.startsWith('error:')) ?? lines.at(-1) ?? 'git failed';
}

function basicCredentials(auth: GitAuth): string {
  return Buffer.from(`${auth.username}:${auth.password}`).toString('base64');
}

/** Removes every form in which a credential could show up in git's output. */
function redact(message: string, remote: Remote): string {
  const secrets: string[] = [];
  if (remote.auth !== undefined) {
    secrets.push(remote.auth.password, basicCredentials(remote.auth));
  }
  if (URL.canParse(remote.url)) {
    const password = new URL(remote.url).password;
    secrets.push(password, safeDecode(password));
  }
  let safe = message.replace(/(\/\/[^/\s:@]*):[^/\s@]*@/g, '$1:***@');
  for (const secret of secrets.filter((value) => value.length > 0)) {
    safe = safe.split(secret).join('***');
  }
  return safe;
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function isRepository(dir: string): boolean {
  return ['HEAD', 'objects', 'refs'].every((entry) => existsSync(join(dir, entry)));
}

function checkSha(sha: string): string {
  if (!SHA.test(sha)) throw new GitMirrorError(`invalid commit id ${JSON.stringify(sha)}`);
  return sha.toLowerCase();
}

/** A path inside the repository: relative, no `.` or `..` segments, nothing git would rewrite. */
function checkPath(path: string): void {
  const valid =
    path !== '' &&
    !path.includes('\0') &&
    path.split('/').every((segment) => segment !== '' && segment !== '.' && segment !== '..');
  if (!valid) throw new GitMirrorError(`invalid path ${JSON.stringify(path)}`);
}

/** The rules of `git check-ref-format`, so a ref can never be read as an option or a range. */
function checkRef(ref: string): void {
  const valid =
    ref !== '' &&
    ref.length <= 255 &&
    ref !== '@' &&
    !ref.startsWith('-') &&
    !ref.includes('..') &&
    !ref.includes('@{') &&
    // eslint-disable-next-line no-control-regex
    !/[\x00-\x20\x7f~^:?*[\\]/.test(ref) &&
    !ref.endsWith('.') &&
    ref.split('/').every((part) => part !== '' && !part.startsWith('.') && !part.endsWith('.lock'));
  if (!valid) throw new GitMirrorError(`invalid ref ${JSON.stringify(ref)}`);
}

/** Only transports a forge uses; `ext::` and friends could run commands on the server. */
function checkUrl(url: string): void {
  const valid =
    !url.startsWith('-') &&
    !/\s/.test(url) &&
    (URL.canParse(url) ? URL_SCHEMES.has(new URL(url).protocol) : SCP_LIKE_URL.test(url));
  if (!valid) throw new GitMirrorError(`unsupported clone URL ${redactUrl(url)}`);
}
