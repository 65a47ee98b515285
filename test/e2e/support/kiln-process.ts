import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { defaultRuntimeDir } from '@kiln/containerizer';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../../..');

export type KilnApp = 'server' | 'master' | 'agent';

/** The line each app prints once it serves, with its URL where it has one. */
const READY: Record<KilnApp, RegExp> = {
  server: /Kiln is up: open (\S+)/,
  master: /Kiln master is up: (\S+)/,
  agent: /registered with the master at (\S+)/,
};

const PORT_VARIABLE: Partial<Record<KilnApp, string>> = {
  server: 'KILN_PORT',
  master: 'KILN_MASTER_PORT',
};

/**
 * One Kiln process started from the build in `dist/`, the way `npm start` and the image run it.
 * Its output is kept for assertions and printed when a test fails.
 */
export class KilnProcess {
  /** Every process started in this test file, so a failing test can show what they printed. */
  static readonly started: KilnProcess[] = [];
  output = '';
  private readonly exited: Promise<number | null>;

  private constructor(
    readonly app: KilnApp,
    private readonly child: ChildProcess,
    readonly dataDir: string,
  ) {
    const append = (chunk: Buffer): void => {
      this.output += chunk.toString('utf8');
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    this.exited = once(child, 'exit').then(([code]) => code as number | null);
  }

  static start(app: KilnApp, env: Record<string, string | undefined> = {}): KilnProcess {
    const main = join(ROOT, 'dist/apps', app, 'src/main.js');
    if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` first`);
    const dataDir = env.KILN_DATA_DIR ?? mkdtempSync(join(tmpdir(), `kiln-e2e-${app}-`));
    const child = spawn(process.execPath, [main], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        ...(PORT_VARIABLE[app] === undefined ? {} : { [PORT_VARIABLE[app]]: '0' }),
        ...env,
        KILN_DATA_DIR: dataDir,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const started = new KilnProcess(app, child, dataDir);
    KilnProcess.started.push(started);
    return started;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Waits until the output matches `pattern`; fails if the process exits first. */
  async waitFor(pattern: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = this.output.match(pattern);
      if (match) return match;
      if (this.child.exitCode !== null) {
        throw new Error(
          `${this.app} exited (${this.child.exitCode}) before ${pattern}:\n${this.output}`,
        );
      }
      if (Date.now() > deadline)
        throw new Error(`no ${pattern} within ${timeoutMs} ms:\n${this.output}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /**
   * Waits until the process serves; resolves with the URL it printed. A minute by default: a
   * start is slow, not wrong, on a machine that runs the rest of the suite beside it.
   */
  async url(timeoutMs = 60_000): Promise<string> {
    const [, url] = await this.waitFor(READY[this.app], timeoutMs);
    return url!.replace('localhost', '127.0.0.1').replace('[::1]', '127.0.0.1');
  }

  /** Output printed after `mark` (an earlier length of {@link output}). */
  since(mark: number): string {
    return this.output.slice(mark);
  }

  /** Resolves with the exit code, or fails after `timeoutMs`. */
  async exitCode(timeoutMs = 10_000): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${this.app} still running after ${timeoutMs} ms:\n${this.output}`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /**
   * Kills the process if it still runs, then whatever it left running in its data directory
   * (tasks of a killed agent), and removes the directory.
   */
  async dispose(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
    killProcessesUnder(this.dataDir);
    if (this.app === 'agent') {
      // SIGKILLed tasks take a moment to leave their cgroups; until then rmdir says busy.
      const deadline = Date.now() + 5_000;
      while (!removeAgentLeftovers(this.dataDir) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** SIGKILLs every process whose working directory is inside `dir`. */
export function killProcessesUnder(dir: string): number {
  let killed = 0;
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    let cwd: string;
    try {
      cwd = readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      continue; // gone meanwhile, or not ours to read
    }
    if (cwd !== dir && !cwd.startsWith(`${dir}/`)) continue;
    try {
      process.kill(Number(pid), 'SIGKILL');
      killed += 1;
    } catch {
      // Exited between the scan and the kill.
    }
  }
  return killed;
}

/**
 * Removes what a killed agent left outside its data directory, once {@link killProcessesUnder}
 * has killed its shims: a test run leaves nothing behind. A shim killed that way cannot stop its
 * container's network helper (slirp4netns runs on the host, in no container's cgroup, with no
 * working directory in the sandbox), so the helpers the agent's runtime directory records are
 * killed; then whatever is left in its cgroups (`kiln/<agent id>` in every hierarchy: a warm
 * container's `runc init`, waiting for a word that never comes), the cgroups, deepest first, and
 * the runtime directory. True when no cgroup is left.
 */
export function removeAgentLeftovers(dataDir: string): boolean {
  let agentId: string;
  try {
    agentId = readFileSync(join(dataDir, 'agent-id'), 'utf8').trim();
  } catch {
    return true; // the agent never started far enough to have an id
  }
  const runtimeDir = defaultRuntimeDir(`kiln/${agentId}`);
  stopNetworkHelpers(join(runtimeDir, 'network'));
  const root = '/sys/fs/cgroup';
  let hierarchies: string[];
  try {
    hierarchies = readdirSync(root).map((name) => join(root, name));
  } catch {
    return true;
  }
  let clean = true;
  for (const hierarchy of [root, ...hierarchies]) {
    const mine = join(hierarchy, 'kiln', agentId);
    try {
      // cgroup v2: every process in the subtree, SIGKILLed by the kernel.
      writeFileSync(join(mine, 'cgroup.kill'), '1');
    } catch {
      // Not v2, or not there.
    }
    removeTree(mine);
    if (existsSync(mine)) clean = false;
    try {
      rmdirSync(join(hierarchy, 'kiln')); // the shared parent, once no agent uses it
    } catch {
      // Another agent still has cgroups there, or it never existed.
    }
  }
  if (clean) rmSync(runtimeDir, { recursive: true, force: true });
  return clean;
}

/** SIGKILLs the slirp4netns whose pids the `*.pid` files in `dir` record (only slirp4netns). */
function stopNetworkHelpers(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir).filter((name) => name.endsWith('.pid'));
  } catch {
    return;
  }
  for (const name of names) {
    try {
      const pid = Number(readFileSync(join(dir, name), 'utf8').trim());
      // A recorded pid may since be another process's.
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'slirp4netns') {
        process.kill(pid, 'SIGKILL');
      }
    } catch {
      // Gone already, or never started.
    }
  }
}

function removeTree(dir: string): void {
  let entries: string[];
  try {
    entries = readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name);
  } catch {
    return;
  }
  for (const child of entries) removeTree(join(dir, child));
  try {
    rmdirSync(dir);
  } catch {
    // Still busy, or not a cgroup: leave it for the containerizer's own recovery.
  }
}
