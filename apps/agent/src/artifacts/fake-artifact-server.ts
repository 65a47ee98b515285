import { ARTIFACT_SHA256_HEADER } from '@kiln/contracts';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the server does with a request instead of serving it: answer so, or cut the connection. */
export type ArtifactServerOverride = { status: number; body?: string | Buffer } | 'drop';

/** A request that reached the server, served or not. */
export interface ArtifactServerRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  sha256: string | undefined;
  body: Buffer;
}

/**
 * The server's artifact routes on a real local HTTP port: `GET /<path>` serves the bytes stored
 * at that path (404 with Kiln's JSON error otherwise), `PUT /<path>` stores the body.
 */
export class FakeArtifactServer {
  readonly requests: ArtifactServerRequest[] = [];
  readonly stored = new Map<string, Buffer>();
  /** Per path, answers to give before the normal one, first in first out. */
  private readonly overrides = new Map<string, ArtifactServerOverride[]>();
  private readonly server: Server;
  private port = 0;

  private constructor() {
    this.server = createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (part: Buffer) => parts.push(part));
      req.on('end', () => {
        const path = decodeURIComponent(req.url ?? '');
        const sha256 = req.headers[ARTIFACT_SHA256_HEADER];
        const body = Buffer.concat(parts);
        this.requests.push({
          method: req.method ?? '',
          path,
          authorization: req.headers.authorization,
          sha256: typeof sha256 === 'string' ? sha256 : undefined,
          body,
        });
        const override = this.overrides.get(path)?.shift();
        if (override === 'drop') {
          // Headers and half the bytes, then nothing: a connection lost mid-transfer.
          const bytes = this.stored.get(path) ?? Buffer.from('x');
          res.writeHead(200, { 'content-length': String(bytes.length) });
          res.write(bytes.subarray(0, Math.floor(bytes.length / 2)), () => res.socket?.destroy());
          return;
        }
        if (override !== undefined) {
          res.writeHead(override.status);
          res.end(override.body ?? '');
          return;
        }
        if (req.method === 'PUT') {
          this.stored.set(path, body);
          res.writeHead(201).end();
          return;
        }
        const bytes = this.stored.get(path);
        if (bytes === undefined) {
          res.writeHead(404, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ statusCode: 404, message: 'no such artifact' }));
          return;
        }
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.end(bytes);
      });
    });
  }

  static async start(): Promise<FakeArtifactServer> {
    const server = new FakeArtifactServer();
    await new Promise<void>((resolve) => server.server.listen(0, '127.0.0.1', resolve));
    server.port = (server.server.address() as AddressInfo).port;
    return server;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** Stores `bytes` at `path` and describes them as an artifact input file named `name`. */
  serve(
    path: string,
    name: string,
    bytes: Buffer | string,
  ): { name: string; sha256: string; size: number; url: string } {
    const data = Buffer.from(bytes);
    this.stored.set(path, data);
    return {
      name,
      sha256: createHash('sha256').update(data).digest('hex'),
      size: data.length,
      url: this.url(path),
    };
  }

  override(path: string, ...answers: ArtifactServerOverride[]): void {
    this.overrides.set(path, [...(this.overrides.get(path) ?? []), ...answers]);
  }

  /** Forgets every request, stored file and override: a fresh server for the next test. */
  reset(): void {
    this.requests.length = 0;
    this.stored.clear();
    this.overrides.clear();
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
