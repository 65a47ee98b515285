import { errorMessage } from '@kiln/common';
import type { SourceInfo } from '@kiln/contracts';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';

export class SourceCheckoutError extends Error {
  constructor(source: SourceInfo, why: string) {
    super(`cannot check out ${source.sha} of ${redactedUrl(source.url)}: ${why}`);
    this.name = 'SourceCheckoutError';
  }
}

/** Files the containerizers write into the sandbox: not part of the source, so git ignores them. */
const SANDBOX_FILES = ['/stdout', '/stderr', '/.exit_code'];

/**
 * Checks out exactly `source.sha` into `dir` (an empty sandbox). Shallow first: one commit, no
 * history, which is all a build needs. Servers that refuse to serve a commit by its id (plain
 * `git daemon` does, GitHub does not) get a fetch of the ref, then of everything, before the
 * commit is looked for. Credentials travel as a per-command header, never into `.git/config`,
 * so the build cannot read them back from the checkout.
 */
export async function checkoutSource(dir: string, source: SourceInfo): Promise<void> {
  const config: string[] = ['advice.detachedHead=false'];
  if (source.username !== undefined && /^https?:/.test(source.url)) {
    const basic = Buffer.from(`${source.username}:${source.password ?? ''}`).toString('base64');
    config.push(`http.extraHeader=Authorization: Basic ${basic}`);
  }
  // Never wait for a person to type a password: a build has nobody at its terminal.
  const git = simpleGit({ baseDir: dir, config }).env({ ...process.env, GIT_TERMINAL_PROMPT: '0' });
  try {
    await git.init();
    await git.addRemote('origin', source.url);
    await fetchCommit(git, source);
    await git.checkout(['--detach', source.sha]);
    await appendFile(join(dir, '.git', 'info', 'exclude'), `${SANDBOX_FILES.join('\n')}\n`);
  } catch (error) {
    throw new SourceCheckoutError(source, redact(errorMessage(error), source));
  }
}

async function fetchCommit(git: SimpleGit, source: SourceInfo): Promise<void> {
  try {
    await git.fetch(['--depth', '1', '--no-tags', 'origin', source.sha]);
    return;
  } catch {
    // The server does not serve unadvertised commits: fetch what it advertises instead.
  }
  if (source.ref !== undefined) {
    await git.fetch(['--no-tags', 'origin', source.ref]).catch(() => undefined);
    if (await hasCommit(git, source.sha)) return;
  }
  await git.fetch(['--tags', 'origin', '+refs/heads/*:refs/remotes/origin/*']);
  if (!(await hasCommit(git, source.sha))) {
    throw new Error(`the repository has no commit ${source.sha}`);
  }
}

async function hasCommit(git: SimpleGit, sha: string): Promise<boolean> {
  try {
    await git.raw(['cat-file', '-e', `${sha}^{commit}`]);
    return true;
  } catch {
    return false;
  }
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
