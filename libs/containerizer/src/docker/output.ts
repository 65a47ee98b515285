import { lstat } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { SandboxOutput } from './docker-support';

/*
 * A task's output, which the engine sends and the agent appends to the sandbox's files: written
 * by the agent, never by the task, so that the task cannot replace them.
 */

export interface Output {
  /** Settles once everything the engine sent has been appended to the sandbox files. */
  readonly done: Promise<void>;
  /** Gives up on the engine's stream, keeping what was written. */
  abort(): void;
}

/**
 * Appends the engine's multiplexed output stream to the sandbox files, reading it no faster than
 * the files take it: a build that prints as fast as it can then waits on the disk, rather than
 * filling the agent's memory (dockerode's `demuxStream` reads on whatever its writes answer).
 */
export function pipeOutput(
  stream: NodeJS.ReadableStream,
  stdout: SandboxOutput,
  stderr: SandboxOutput,
): Output {
  const demultiplexer = new Demultiplexer(stdout, stderr);
  let ending = false;
  const endInput = (): void => {
    if (ending) return;
    ending = true;
    // What is under way still reaches the files: `finish` comes after the last write.
    demultiplexer.end();
  };
  const done = new Promise<void>((resolve) => {
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      stdout.end();
      stderr.end();
      Promise.all([finished(stdout), finished(stderr)]).then(
        () => resolve(),
        () => resolve(),
      );
    };
    demultiplexer.once('finish', end);
    demultiplexer.once('close', end);
    // `on`, not `once`: an 'error' nobody listens to (a second one, or a full disk under the
    // sandbox files) would take the whole agent down, not just this task's output.
    demultiplexer.on('error', end);
    for (const output of [stdout, stderr]) output.on('error', end);
  });
  stream.pipe(demultiplexer, { end: false });
  stream.once('end', endInput);
  stream.once('close', endInput);
  stream.on('error', endInput);
  return {
    done,
    abort: () => {
      (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
      endInput();
    },
  };
}

/**
 * The engine's multiplexed stream, frame by frame: an 8-byte header (the stream, 1 for stdout and
 * 2 for stderr; then the payload's length, big-endian, in its last four bytes), then the payload.
 * Each chunk is taken once the files have what it held, so the engine's stream waits on them.
 */
class Demultiplexer extends Writable {
  private pending: Buffer = Buffer.alloc(0);

  constructor(
    private readonly stdout: Writable,
    private readonly stderr: Writable,
  ) {
    super();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (e?: Error) => void) {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    this.writeFrames().then(() => callback(), callback);
  }

  /** Writes the whole frames received, a run of one stream's frames in one write. */
  private async writeFrames(): Promise<void> {
    for (;;) {
      let at = 0;
      let stream: number | undefined;
      const payloads: Buffer[] = [];
      while (this.pending.length - at >= HEADER_BYTES) {
        const kind = this.pending[at];
        const size = this.pending.readUInt32BE(at + 4);
        if (this.pending.length - at < HEADER_BYTES + size) break;
        if (stream !== undefined && kind !== stream) break;
        stream = kind;
        payloads.push(this.pending.subarray(at + HEADER_BYTES, at + HEADER_BYTES + size));
        at += HEADER_BYTES + size;
      }
      if (stream === undefined) return;
      this.pending = this.pending.subarray(at);
      const target = stream === 2 ? this.stderr : this.stdout;
      const data = payloads.length === 1 ? payloads[0]! : Buffer.concat(payloads);
      await new Promise<void>((resolve, reject) =>
        target.write(data, (error) => (error ? reject(error) : resolve())),
      );
    }
  }
}

/** The bytes of a frame's header in the engine's multiplexed stream. */
const HEADER_BYTES = 8;

/** A sandbox output file to go on with after a restart, skipping the `offset` bytes before the task's. */
export async function resumedOutput(path: string, offset: number): Promise<SandboxOutput> {
  const size = await lstat(path).then(
    (s) => s.size,
    () => 0,
  );
  return new SandboxOutput(path, size - offset).opened();
}
