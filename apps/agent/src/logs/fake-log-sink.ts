import type { LogChunkMessage, LogSinkInfo } from '@kiln/contracts';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the sink answers a request, instead of taking the chunk; undefined: take it. */
export type SinkOverride = (
  chunk: LogChunkMessage,
) => { status: number; body?: unknown } | undefined;

/**
 * A log sink on a real local HTTP port that keeps a task's output the way the server does: the
 * bytes it has not seen yet, a 409 with the offset it expects for a chunk that would leave a gap.
 */
export class FakeLogSink {
  /** Every chunk that reached the sink, accepted or not. */
  readonly chunks: LogChunkMessage[] = [];
  /** Answers to give before the normal ones, first in first out. */
  readonly overrides: SinkOverride[] = [];
  /**
   * Set: of the next chunk, the sink keeps at most this many new bytes, and says where it stands,
   * as the server holds back the end of a line cut where a secret may continue.
   */
  keepAtMost: number | undefined;
  private output = Buffer.alloc(0);
  private eof = false;
  /** When the eof chunk was taken (ms since the epoch). */
  completedAt: number | undefined;

  private readonly server: Server;
  private port = 0;

  private constructor(private readonly token: string) {
    this.server = createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (part: Buffer) => parts.push(part));
      req.on('end', () => {
        const answer = this.answer(
          req.headers.authorization,
          req.headers['content-type'],
          Buffer.concat(parts).toString('utf8'),
        );
        res.writeHead(answer.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer.body ?? {}));
      });
    });
  }

  static async start(token = 'task-token'): Promise<FakeLogSink> {
    const sink = new FakeLogSink(token);
    await new Promise<void>((resolve) => sink.server.listen(0, '127.0.0.1', resolve));
    sink.port = (sink.server.address() as AddressInfo).port;
    return sink;
  }

  get sink(): LogSinkInfo {
    return { url: `http://127.0.0.1:${this.port}/logs`, token: this.token };
  }

  get text(): string {
    return this.output.toString('utf8');
  }

  get complete(): boolean {
    return this.eof;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private answer(
    authorization: string | undefined,
    contentType: string | undefined,
    body: string,
  ): { status: number; body?: unknown } {
    if (authorization !== `Bearer ${this.token}`) return { status: 401 };
    if (contentType !== 'application/json') return { status: 415 };
    const chunk = JSON.parse(body) as LogChunkMessage;
    this.chunks.push(chunk);
    const override = this.overrides.shift()?.(chunk);
    if (override !== undefined) return override;
    const bytes = Buffer.from(chunk.data, 'utf8');
    if (bytes.length !== chunk.bytes) return { status: 400 };
    if (chunk.offset > this.output.length) {
      return { status: 409, body: { nextOffset: this.output.length } };
    }
    const unseen = bytes.subarray(this.output.length - chunk.offset);
    const kept = unseen.subarray(0, this.keepAtMost ?? unseen.length);
    this.keepAtMost = undefined;
    this.output = Buffer.concat([this.output, kept]);
    if (chunk.eof === true && !this.eof && kept.length === unseen.length) {
      this.eof = true;
      this.completedAt = Date.now();
    }
    return { status: 200, body: { nextOffset: this.output.length } };
  }
}
