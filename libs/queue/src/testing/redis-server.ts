import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';

/** A free TCP port on loopback, chosen by the kernel. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (address === null || typeof address === 'string') throw new Error('no port assigned');
  return address.port;
}

/**
 * A private `redis-server` on its own port, for tests that stop and start Redis under a client.
 * Tests that only need a Redis use the shared one with their own key prefix instead.
 */
export class EphemeralRedis {
  private process: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    private readonly appendOnlyDir: string | undefined,
  ) {}

  /**
   * `appendOnlyDir`: keep an append-only file there, fsynced at every write, so that a Redis
   * killed with SIGKILL and started again has every acknowledged write, as a production one with
   * AOF would; without it the Redis keeps nothing across a restart.
   */
  static async start(options: { appendOnlyDir?: string } = {}): Promise<EphemeralRedis> {
    const redis = new EphemeralRedis(await freePort(), options.appendOnlyDir);
    await redis.start();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        ...(this.appendOnlyDir === undefined
          ? ['--appendonly', 'no']
          : ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', this.appendOnlyDir]),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    this.process = child;
    let output = '';
    child.stdout.setEncoding('utf8');
    await new Promise<void>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) =>
        reject(new Error(`redis-server exited with ${code}: ${output}`)),
      );
      child.stdout.on('data', (chunk: string) => {
        output += chunk;
        if (output.includes('Ready to accept connections')) resolve();
      });
    });
  }

  /** Freezes the server (SIGSTOP): connections stay open, commands get no answer. */
  pause(): void {
    this.process?.kill('SIGSTOP');
  }

  /** Thaws a paused server (SIGCONT): it answers what waited. */
  resume(): void {
    this.process?.kill('SIGCONT');
  }

  /** Stops Redis with SIGKILL, as a crash would. */
  async stop(): Promise<void> {
    const child = this.process;
    if (child === undefined || child.exitCode !== null) return;
    this.process = undefined;
    child.kill('SIGKILL');
    await once(child, 'exit');
  }
}
