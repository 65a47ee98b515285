import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import type { CliIo } from '../context';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

type Handler = (req: RecordedRequest, res: ServerResponse) => void;

/** A real loopback HTTP server standing in for Kiln's API: routes are `METHOD /path` → handler. */
export class FakeApi {
  readonly requests: RecordedRequest[] = [];
  private readonly routes = new Map<string, Handler>();
  private readonly server: Server;

  private constructor() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const recorded = {
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        };
        this.requests.push(recorded);
        const handler = this.routes.get(`${recorded.method} ${recorded.path}`);
        if (handler === undefined) {
          json(res, 404, {
            statusCode: 404,
            error: 'Not Found',
            message: `Cannot ${recorded.method} ${recorded.path}`,
          });
        } else {
          handler(recorded, res);
        }
      });
    });
  }

  static async start(): Promise<FakeApi> {
    const api = new FakeApi();
    await new Promise<void>((resolve) => api.server.listen(0, '127.0.0.1', resolve));
    return api;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  on(route: string, handler: Handler): this {
    this.routes.set(route, handler);
    return this;
  }

  /** Answers `route` with `body` as JSON (status 200 unless told). */
  reply(route: string, body: unknown, status = 200): this {
    return this.on(route, (_req, res) => json(res, status, body));
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/** A CLI's surroundings in memory: what it printed, a fixed clock, sleeps that do not wait long. */
export function memoryIo(
  env: NodeJS.ProcessEnv,
  options: { stdin?: string; tty?: boolean; now?: Date; cwd?: string } = {},
): CliIo & { stdoutText(): string; stderrText(): string } {
  let stdout = '';
  let stderr = '';
  const stdin = Readable.from(options.stdin === undefined ? [] : [Buffer.from(options.stdin)]);
  return {
    stdout: { write: (text: string) => (stdout += text), isTTY: options.tty ?? false },
    stderr: { write: (text: string) => (stderr += text) },
    stdin: Object.assign(stdin, {
      isTTY: options.stdin === undefined ? (options.tty ?? false) : false,
    }),
    env,
    now: () => options.now ?? new Date(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, 5))),
    version: '0.0.0-test',
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    stdoutText: () => stdout,
    stderrText: () => stderr,
  };
}
