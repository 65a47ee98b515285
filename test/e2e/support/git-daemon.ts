import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'node:net';
import { serveUploadPack } from '../../../apps/server/src/git/git-http-backend';
import { git } from './git';

/** A fetch over smart HTTP asks for these two paths of a repository, and nothing else. */
const UPLOAD_PACK_PATH = /^\/([A-Za-z0-9_.-]+)\.git\/(info\/refs|git-upload-pack)$/;

/**
 * Bare repositories served by `git daemon` on loopback, with helpers to commit to them; and, once
 * {@link serveHttp} is called, over smart HTTP too (`git http-backend`), as forges serve them.
 */
export class GitDaemon {
  private http: { server: Server; port: number } | undefined;
  /** What each request over HTTP asked for, and the credentials it came with. */
  readonly httpRequests: { path: string; authorization: string | undefined }[] = [];

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

  /**
   * Serves the same repositories for fetches over smart HTTP on a port of its own. A fetch from
   * `git daemon` on loopback waits ~40 ms at each of its two answers (upload-pack writes each in
   * small pieces, and Nagle's algorithm holds the second piece until the client's delayed ACK);
   * forges answer over HTTP(S), where that wait is not, so a measurement of what a forge's user
   * sees fetches this way.
   */
  async serveHttp(): Promise<void> {
    if (this.http !== undefined) return;
    const server = createServer((request, response) => {
      const path = new URL(request.url ?? '/', 'http://forge').pathname;
      this.httpRequests.push({ path, authorization: request.headers.authorization });
      const match = UPLOAD_PACK_PATH.exec(path);
      if (match?.[1] === undefined || match[2] === undefined) {
        response.writeHead(404).end();
        return;
      }
      const repository = join(this.root, 'repos', `${match[1]}.git`);
      serveUploadPack(
        repository,
        'whole repository',
        match[2] as 'info/refs' | 'git-upload-pack',
        request,
        response,
      ).catch(() => response.destroy());
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    this.http = { server, port: (server.address() as AddressInfo).port };
  }

  /** The repository's URL over smart HTTP; {@link serveHttp} first. */
  httpUrl(name: string): string {
    if (this.http === undefined) throw new Error('serveHttp() first: no HTTP server runs');
    return `http://127.0.0.1:${this.http.port}/${name}.git`;
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

  /**
   * Pushes a commit of repository `name` (made by {@link createRepository}) holding one file at
   * `path`, which no working tree need hold (a name too long for any file system, say); its id.
   */
  pushTree(name: string, path: string, content: string): string {
    const work = join(this.root, 'work', name);
    const made = (args: string[], input: string) =>
      execFileSync('git', args, { cwd: work, input, encoding: 'utf8' }).trim();
    const blob = made(['hash-object', '-w', '--stdin'], content);
    const tree = made(['mktree'], `100644 blob ${blob}\t${path}\n`);
    const sha = git(work, 'commit-tree', tree, '-p', 'HEAD', '-m', 'tree');
    git(work, 'push', 'origin', `${sha}:refs/heads/main`);
    return sha;
  }

  async stop(): Promise<void> {
    if (this.http !== undefined) {
      this.http.server.closeAllConnections();
      await new Promise((resolve) => this.http?.server.close(resolve));
    }
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
