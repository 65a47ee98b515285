import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SandboxOutput } from './docker-support';
import { pipeOutput } from './output';

/** One frame of the engine's multiplexed stream: 1 stdout, 2 stderr. */
function frame(stream: 1 | 2, payload: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

describe(pipeOutput.name, () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-docker-output-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  async function outputs(): Promise<[SandboxOutput, SandboxOutput]> {
    return [
      await new SandboxOutput(join(dir, 'stdout')).opened(),
      await new SandboxOutput(join(dir, 'stderr')).opened(),
    ];
  }

  it("appends each stream's frames to its file, frames cut anywhere by the engine's chunks", async () => {
    const whole = Buffer.concat([
      frame(1, Buffer.from('out 1\n')),
      frame(2, Buffer.from('err 1\n')),
      frame(1, Buffer.from('out 2\n')),
    ]);
    // Cut inside a header and inside a payload.
    const chunks = [whole.subarray(0, 3), whole.subarray(3, 17), whole.subarray(17)];
    const [stdout, stderr] = await outputs();
    await pipeOutput(Readable.from(chunks), stdout, stderr).done;
    expect(await readFile(join(dir, 'stdout'), 'utf8')).toBe('out 1\nout 2\n');
    expect(await readFile(join(dir, 'stderr'), 'utf8')).toBe('err 1\n');
  });

  // A build printing as fast as it can must not fill the agent's memory with what the disk has
  // not taken yet: the engine's stream waits for the files.
  it('reads the engine no faster than the files take its output', async () => {
    const payload = Buffer.alloc(64 * 1024, 'a');
    let sent = 0;
    const engine = new Readable({
      read() {
        sent += 1;
        this.push(sent <= 1024 ? frame(1, payload) : null);
      },
    });
    const [stdout, stderr] = await outputs();
    let queued = 0;
    const write = stdout._write.bind(stdout);
    stdout._write = (chunk: Buffer, encoding, callback) => {
      queued = Math.max(queued, stdout.writableLength);
      // A slow disk.
      setTimeout(() => write(chunk, encoding, callback), 1);
    };
    await pipeOutput(engine, stdout, stderr).done;
    expect((await readFile(join(dir, 'stdout'))).length).toBe(64 * 1024 * 1024);
    expect(queued).toBeLessThan(2 * 1024 * 1024);
  });
});
