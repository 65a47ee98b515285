import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'node:net';
import { git } from './git';

/** A bare repository served by `git daemon` on loopback, with helpers to commit to it. */
export class GitDaemon {
  private constructor(
    private readonly root: string,
    private readonly daemon: ChildProcess,
    readonly port: number,
  ) {}

  static async start(port: number): Promise<GitDaemon> {
    const root = mkdtempSync(join(tmpdir(), 'kiln-git-'));
    mkdirSync(join(root, 'repos'));
    const daemon = spawn(
      'git',
      [
        'daemon',
        '--export-all',
        '--reuseaddr',
        `--base-path=${join(root, 'repos')}`,
        '--listen=127.0.0.1',
        `--port=${port}`,
      ],
      { stdio: 'ignore' },
    );
    const served = new GitDaemon(root, daemon, port);
    await served.untilListening();
    return served;
  }

  url(name: string): string {
    return `git://127.0.0.1:${this.port}/${name}.git`;
  }

  /** Creates repository `name` and returns a function that commits files to it, giving the sha. */
  createRepository(name: string): (files: Record<string, string>, message?: string) => string {
    const bare = join(this.root, 'repos', `${name}.git`);
    const work = join(this.root, 'work', name);
    mkdirSync(bare, { recursive: true });
    git(bare, 'init', '--bare', '--initial-branch=main');
    mkdirSync(work, { recursive: true });
    git(work, 'init', '--initial-branch=main');
    git(work, 'remote', 'add', 'origin', bare);
    return (files, message = 'change') => {
      for (const [path, content] of Object.entries(files)) writeFileSync(join(work, path), content);
      git(work, 'add', '-A');
      git(work, 'commit', '-m', message);
      git(work, 'push', 'origin', 'main');
      return git(work, 'rev-parse', 'HEAD');
    };
  }

  async stop(): Promise<void> {
    if (this.daemon.exitCode === null) {
      this.daemon.kill('SIGTERM');
      await once(this.daemon, 'exit');
    }
    rmSync(this.root, { recursive: true, force: true });
  }

  private async untilListening(): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const ok = await new Promise<boolean>((resolve) => {
        const socket = createConnection({ host: '127.0.0.1', port: this.port });
        socket.once('connect', () => {
          socket.destroy();
          resolve(true);
        });
        socket.once('error', () => resolve(false));
      });
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`git daemon did not listen on ${this.port}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
