import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../../..');

export type KilnApp = 'server';

/**
 * One Kiln process started from the build in `dist/`, the way `npm start` and the image run it.
 * Its output is kept for assertions and printed when a test fails.
 */
export class KilnProcess {
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

  static start(app: KilnApp, env: Record<string, string> = {}): KilnProcess {
    const main = join(ROOT, 'dist/apps', app, 'src/main.js');
    if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` first`);
    const dataDir = env.KILN_DATA_DIR ?? mkdtempSync(join(tmpdir(), `kiln-e2e-${app}-`));
    const child = spawn(process.execPath, [main], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, KILN_PORT: '0', ...env, KILN_DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new KilnProcess(app, child, dataDir);
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

  /** The URL the process printed once it was listening. */
  async url(): Promise<string> {
    const [, url] = await this.waitFor(/Kiln is up: open (\S+)/);
    return url!.replace('localhost', '127.0.0.1');
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

  /** Kills the process if it still runs and removes its data directory. */
  async dispose(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
