import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createUpstream } from '../../../../test/integration/support/upstream';
import { checkOutCommit } from './owned-checkout';

/** A host id of no user here, as a task's range starts (run as root, like the agent). */
const OWNER = 1_234_567;

/**
 * Stands for a git that a hostile commit took over: code running as whatever the checkout runs
 * as. It says who and where it is, and leaves a process behind, detached.
 */
const TAKEN_OVER = `#!/bin/sh
{
  echo "uid=$(id -u) groups=$(id -G)"
  echo "net=$(readlink /proc/self/ns/net)"
  echo "pid1=$(cat /proc/1/comm)"
  echo "tmp=$(ls -A /tmp | tr '\\n' ' ')"
  grep NoNewPrivs /proc/self/status
  echo "processes=$(ulimit -p) file-blocks=$(ulimit -f)"
  echo left > /var/tmp/kiln-taken-over && echo left > /dev/shm/kiln-taken-over
} > taken-over
setsid sleep 1000 < /dev/null > /dev/null 2>&1 &
`;

describe(checkOutCommit.name, () => {
  let dir: string;

  beforeEach(() => {
    // Root's alone (0700), as the agent's data directory may be: the owner cannot pass through.
    dir = mkdtempSync(join(tmpdir(), 'kiln-owned-checkout-'));
  });
  afterEach(() => {
    spawnSync('pkill', ['-KILL', '-u', String(OWNER)]);
    rmSync(dir, { recursive: true, force: true });
  });

  /** A workspace holding the commit's objects, as the agent leaves it before the checkout. */
  function fetched(files: Record<string, string>): { workspace: string; sha: string } {
    const upstream = createUpstream(join(dir, 'upstream'), files);
    const workspace = join(dir, 'workspace');
    mkdirSync(workspace);
    const git = (...args: string[]) => execFileSync('git', args, { cwd: workspace });
    git('init', '-q');
    git('fetch', '-q', '--depth', '1', upstream.url, upstream.sha);
    return { workspace, sha: upstream.sha };
  }

  it("checks the commit out as the task's user, with no network, and leaves none of its processes", async () => {
    const { workspace, sha } = fetched({ 'README.md': 'owned\n', 'main.c': 'int main;\n' });
    const hook = join(workspace, '.git', 'hooks', 'post-checkout');
    mkdirSync(join(workspace, '.git', 'hooks'), { recursive: true });
    writeFileSync(hook, TAKEN_OVER, { mode: 0o755 });

    await checkOutCommit(workspace, sha, { checkoutUser: OWNER, owner: OWNER });

    expect(readFileSync(join(workspace, 'main.c'), 'utf8')).toBe('int main;\n');
    for (const path of ['', 'main.c', '.git/index', '.git/HEAD', '.git/objects']) {
      expect(lstatSync(join(workspace, path)).uid, path).toBe(OWNER);
    }
    const said = readFileSync(join(workspace, 'taken-over'), 'utf8');
    expect(said).toContain(`uid=${OWNER} groups=${OWNER}\n`);
    expect(said).toMatch(/NoNewPrivs:\s+1/);
    expect(said).not.toContain(`net=${readlinkSync('/proc/self/ns/net')}`);
    // Its /proc is its pid namespace's, whose first process is the agent's shell around git.
    expect(said).toContain('pid1=sh\n');
    expect(said).toContain('processes=256 file-blocks=8388608\n');
    // What it wrote where anyone may write went with it.
    expect(existsSync('/var/tmp/kiln-taken-over')).toBe(false);
    expect(existsSync('/dev/shm/kiln-taken-over')).toBe(false);
    // Its /tmp is its own, holding the workspace alone.
    expect(said).toContain('tmp=workspace \n');
    // What it left running ended with the checkout: no process of the owner's is left.
    const left = spawnSync('pgrep', ['-u', String(OWNER)], { encoding: 'utf8' });
    expect(left.stdout).toBe('');
    expect(left.status).toBe(1);
  });

  it("fails naming git's words when the commit is not in the repository", async () => {
    const { workspace } = fetched({ 'README.md': 'x\n' });
    const ownership = { checkoutUser: OWNER, owner: OWNER };
    await expect(checkOutCommit(workspace, 'f'.repeat(40), ownership)).rejects.toThrow(
      /reference is not a tree|did not match any|unable to read tree/,
    );
  });

  it("gives the workspace to its owner once a checkout by another user is over (Docker's root)", async () => {
    const { workspace, sha } = fetched({ 'README.md': 'for root\n' });
    mkdirSync(join(workspace, '.git', 'hooks'), { recursive: true });
    writeFileSync(join(workspace, '.git', 'hooks', 'post-checkout'), TAKEN_OVER, { mode: 0o755 });

    await checkOutCommit(workspace, sha, { checkoutUser: OWNER, owner: 0 });

    expect(readFileSync(join(workspace, 'taken-over'), 'utf8')).toContain(`uid=${OWNER} `);
    for (const path of ['', 'README.md', 'taken-over', '.git/index']) {
      expect(lstatSync(join(workspace, path)).uid, path).toBe(0);
    }
    // Root's git takes the repository as its own again.
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: workspace, encoding: 'utf8' });
    expect(head.trim()).toBe(sha);
  });

  it("ends a checkout by the task's user at once when the task is killed, with all it started", async () => {
    const { workspace, sha } = fetched({ 'README.md': 'slow\n' });
    mkdirSync(join(workspace, '.git', 'hooks'), { recursive: true });
    // A git that stalls, holding SIGTERM off as unshare itself does.
    const stalling = "#!/bin/sh\ntrap '' TERM\necho stalled > stalled\nsleep 1000\n";
    writeFileSync(join(workspace, '.git', 'hooks', 'post-checkout'), stalling, { mode: 0o755 });
    const killed = new AbortController();

    const checkout = checkOutCommit(
      workspace,
      sha,
      { checkoutUser: OWNER, owner: OWNER },
      killed.signal,
    );
    await vi.waitFor(() => expect(existsSync(join(workspace, 'stalled'))).toBe(true), {
      timeout: 10_000,
    });
    killed.abort();

    await expect(checkout).rejects.toThrow('unshare was stopped');
    await vi.waitFor(() => {
      const left = spawnSync('pgrep', ['-u', String(OWNER)], { encoding: 'utf8' });
      expect(left.stdout).toBe('');
    });
  });
});
