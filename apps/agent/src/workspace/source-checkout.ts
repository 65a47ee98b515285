import { backoffDelay, errorMessage, gitEnv, GIT_ENV_OPTIONS, sleep } from '@kiln/common';
import type { SourceInfo } from '@kiln/contracts';
import { simpleGit, type SimpleGit } from 'simple-git';
import { checkOutCommit, type CheckoutBy } from './owned-checkout';

export class SourceCheckoutError extends Error {
  constructor(source: SourceInfo, why: string) {
    super(`cannot check out ${source.sha} of ${redactedUrl(source.url)}: ${why}`);
    this.name = 'SourceCheckoutError';
  }
}

/**
 * The checkout by the task's own user failed: never tried again, whatever its words (a commit can
 * make them read like a network's), as the agent's git must not run where that user has been.
 */
class OwnedCheckoutFailure extends Error {}

/** How long a checkout keeps trying a server it cannot reach (the server restarting, say). */
export const SOURCE_RETRY_MS = 60_000;

export interface CheckoutOptions {
  /** How long a server that cannot be reached is waited for; default {@link SOURCE_RETRY_MS}. */
  retryForMs?: number;
  /**
   * `dir` is a bare repository (the agent's source cache): the commit is fetched and kept under
   * this ref instead of being checked out.
   */
  keepAs?: string;
  /** Stops the waiting for an unreachable server (the task was killed meanwhile). */
  signal?: AbortSignal;
  /** Who checks the commit out, and owns it then ({@link checkOutCommit}); not with `keepAs`. */
  by?: CheckoutBy;
}

/**
 * Git's words for a server it could not reach, or that failed on its side: worth another try.
 * Anything else (no such repository or commit, credentials refused) fails the checkout at once.
 */
const UNREACHABLE =
  /Failed to connect|Connection refused|Could not resolve host|timed out|Empty reply|Connection reset|Broken pipe|packet write failed|returned error: 5\d\d|RPC failed|unexpected disconnect|early EOF|remote end hung up/i;

/**
 * Checks out exactly `source.sha` into `dir` (a task's empty workspace, beside the agent's files:
 * what the repository has, links included, cannot replace them). Shallow: one commit, no history,
 * which is all a build needs. The ref the commit was pushed to comes first (every server serves
 * it, and it usually still points at the commit); then the commit by its id (GitHub serves it,
 * plain `git daemon` does not); then everything. Credentials travel as a per-command header,
 * never into `.git/config`, so the build cannot read them back from the checkout.
 *
 * The source is the server's mirror of the repository: a server restarting (or a network blip)
 * is waited for, with backoff, for up to `options.retryForMs`, rather than failing a job that
 * never ran.
 *
 * Every command prints something (`-t` rather than `-e`, `--verbose` fetches): simple-git waits
 * an extra 50 ms after a command that wrote nothing.
 */
export async function checkoutSource(
  dir: string,
  source: SourceInfo,
  options: CheckoutOptions = {},
): Promise<void> {
  const config: string[] = ['advice.detachedHead=false'];
  const authorization = basicAuthorization(source);
  if (authorization !== undefined && /^https?:/.test(source.url)) {
    config.push(`http.extraHeader=Authorization: ${authorization}`);
  }
  // Never a prompt (a build has nobody at its terminal), never the agent's EDITOR or PAGER.
  const git = simpleGit({ ...GIT_ENV_OPTIONS, baseDir: dir, config }).env(gitEnv());
  const deadline = Date.now() + (options.retryForMs ?? SOURCE_RETRY_MS);
  const { keepAs, by } = options;
  const succeeds = (done: Promise<unknown>): Promise<boolean> =>
    done.then(
      () => true,
      () => false,
    );
  // A checkout that fails means the commit is not there (yet): one command where a lookup and
  // a checkout would be two. Likewise a ref to an object that is not there is refused.
  const place = async (): Promise<boolean> => {
    if (keepAs !== undefined) return succeeds(git.raw(['update-ref', keepAs, source.sha]));
    if (by === undefined) return succeeds(checkOutCommit(dir, source.sha, undefined));
    // The owner's checkout is the last git command in the repository: the agent's git never runs
    // where another user has been (its config and hooks would be that user's). So it runs once
    // the commit is there, and its failure is the checkout's.
    const type = await git.raw(['cat-file', '-t', source.sha]).catch(() => '');
    if (type.trim() !== 'commit') return false;
    await checkOutCommit(dir, source.sha, by, options.signal).catch((error: unknown) => {
      throw new OwnedCheckoutFailure(errorMessage(error));
    });
    return true;
  };
  for (let attempt = 1; ; attempt += 1) {
    try {
      if (keepAs === undefined) await git.init();
      await fetchAndPlace(git, source, place);
      return;
    } catch (error) {
      const message = errorMessage(error);
      const final = error instanceof OwnedCheckoutFailure || !UNREACHABLE.test(message);
      if (final || Date.now() >= deadline || options.signal?.aborted) {
        throw new SourceCheckoutError(source, redact(message, source));
      }
    }
    const wait = Math.min(backoffDelay(attempt, 250, 5_000), Math.max(0, deadline - Date.now()));
    await sleep(wait, options.signal);
    if (options.signal?.aborted === true) {
      throw new SourceCheckoutError(source, 'stopped: the task was killed');
    }
  }
}

async function fetchAndPlace(
  git: SimpleGit,
  source: SourceInfo,
  checkOut: () => Promise<boolean>,
): Promise<void> {
  // Fetched by URL, not through a remote: nothing of the source is written to the config.
  const fetch = (...args: string[]): Promise<boolean> =>
    git.fetch(['--verbose', '--no-tags', ...args]).then(
      () => true,
      () => false,
    );
  if (source.ref !== undefined && (await fetch('--depth', '1', source.url, source.ref))) {
    if (await checkOut()) return;
  }
  if ((await fetch('--depth', '1', source.url, source.sha)) && (await checkOut())) return;
  // The ref moved on and the server refuses commits by id: all of the history it advertises.
  const shallow = (await git.raw(['rev-parse', '--is-shallow-repository'])).trim() === 'true';
  await git.fetch([
    '--verbose',
    '--tags',
    ...(shallow ? ['--unshallow'] : []),
    source.url,
    '+refs/heads/*:refs/remotes/origin/*',
  ]);
  if (!(await checkOut())) throw new Error(`the repository has no commit ${source.sha}`);
}

/** The source's credentials as an HTTP `Authorization` value; undefined without a user name. */
export function basicAuthorization(source: SourceInfo): string | undefined {
  if (source.username === undefined) return undefined;
  return `Basic ${Buffer.from(`${source.username}:${source.password ?? ''}`).toString('base64')}`;
}

function redactedUrl(url: string): string {
  return url.replace(/\/\/[^/@]*@/, '//***@');
}

function redact(message: string, source: SourceInfo): string {
  let safe = message;
  if (source.password !== undefined && source.password !== '') {
    safe = safe.split(source.password).join('***');
  }
  return redactedUrl(safe);
}
