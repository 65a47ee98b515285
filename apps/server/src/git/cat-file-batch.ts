import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

export interface GitObject {
  oid: string;
  type: 'blob' | 'tree' | 'commit' | 'tag';
  size: number;
}

interface Pending {
  /** `contents` answers carry the object's bytes after the header; `info` answers do not. */
  withContents: boolean;
  resolve: (answer: { object: GitObject; content?: Buffer } | undefined) => void;
  reject: (error: Error) => void;
}

/**
 * One long-lived `git cat-file --batch-command` on a repository: objects are looked up and read
 * over a pipe instead of a process per read. Spawning git from the server blocks its event loop
 * for about a millisecond each time; under a burst of pushes that was most of the server's CPU.
 *
 * Commands are answered in order, so answers are matched to requests first in, first out. A
 * missing object answers undefined. Objects fetched into the repository after the process started
 * are found too: git rescans its packs when an object is not where it looked.
 */
export class CatFileBatch {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly pending: Pending[] = [];
  private buffer: Buffer = Buffer.alloc(0);
  /**
   * The bytes of an object whose answer is still arriving, kept as the chunks they came in and
   * joined once: joining every chunk onto what came before copied a 36 MB tree some 600 times
   * (seconds of the event loop, per read).
   */
  private body:
    { request: Pending; object: GitObject; chunks: Buffer[]; bytes: number } | undefined;
  private failure: Error | undefined;

  constructor(dir: string, env: Record<string, string>) {
    this.child = spawn('git', ['cat-file', '--batch-command'], { cwd: dir, env });
    this.child.stdout.on('data', (chunk: Buffer) => this.receive(chunk));
    let stderr = '';
    this.child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-2_000);
    });
    this.child.on('error', (error) => this.fail(error));
    this.child.on('close', (code) => {
      this.fail(new Error(`git cat-file exited (${code ?? 'signal'}): ${stderr.trim()}`));
    });
    // A request written after the process died fails through 'close'; never crash on EPIPE.
    this.child.stdin.on('error', () => undefined);
  }

  get alive(): boolean {
    return this.failure === undefined;
  }

  /** The object's type and size, or undefined when the repository has no such object. */
  async info(name: string): Promise<GitObject | undefined> {
    return (await this.request('info', name))?.object;
  }

  /** The object and its bytes, or undefined when the repository has no such object. */
  async contents(name: string): Promise<{ object: GitObject; content: Buffer } | undefined> {
    const answer = await this.request('contents', name);
    return answer === undefined ? undefined : { object: answer.object, content: answer.content! };
  }

  close(): void {
    this.fail(new Error('closed'));
    this.child.kill();
  }

  private request(
    command: 'info' | 'contents',
    name: string,
  ): Promise<{ object: GitObject; content?: Buffer } | undefined> {
    if (/[\n\0]/.test(name)) return Promise.reject(new Error('an object name has no line breaks'));
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending.push({ withContents: command === 'contents', resolve, reject });
      this.child.stdin.write(`${command} ${name}\n`);
    });
  }

  /** Takes a chunk of git's answers: into the object being read, or to be parsed. */
  private receive(chunk: Buffer): void {
    const body = this.body;
    if (body === undefined) {
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
      this.drain();
      return;
    }
    body.chunks.push(chunk);
    body.bytes += chunk.length;
    // The content and the newline after it.
    if (body.bytes < body.object.size + 1) return;
    this.body = undefined;
    const whole = Buffer.concat(body.chunks, body.bytes);
    // A copy: the rest (the next answers' first bytes) must not hold the whole object in memory.
    this.buffer = Buffer.from(whole.subarray(body.object.size + 1));
    this.pending.shift();
    body.request.resolve({ object: body.object, content: whole.subarray(0, body.object.size) });
    this.drain();
  }

  /** Answers every request whose whole answer has arrived. */
  private drain(): void {
    for (;;) {
      const request = this.pending[0];
      const eol = this.buffer.indexOf(0x0a);
      if (request === undefined || eol < 0) return;
      const header = this.buffer.subarray(0, eol).toString('utf8');
      const match = /^([0-9a-f]+) (blob|tree|commit|tag) (\d+)$/.exec(header);
      if (match === null) {
        // `<name> missing` (or `ambiguous`): no such object.
        this.buffer = this.buffer.subarray(eol + 1);
        this.pending.shift();
        request.resolve(undefined);
        continue;
      }
      const object: GitObject = {
        oid: match[1]!,
        type: match[2] as GitObject['type'],
        size: Number(match[3]),
      };
      if (!request.withContents) {
        this.buffer = this.buffer.subarray(eol + 1);
        this.pending.shift();
        request.resolve({ object });
        continue;
      }
      const end = eol + 1 + object.size;
      if (this.buffer.length < end + 1) {
        // The content and its newline are not all here: the rest is collected as it comes.
        const start = this.buffer.subarray(eol + 1);
        this.buffer = Buffer.alloc(0);
        this.body = { request, object, chunks: [start], bytes: start.length };
        return;
      }
      const content = Buffer.from(this.buffer.subarray(eol + 1, end));
      this.buffer = this.buffer.subarray(end + 1);
      this.pending.shift();
      request.resolve({ object, content });
    }
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.body = undefined;
    for (const request of this.pending.splice(0)) request.reject(this.failure);
  }
}

/**
 * The entry `name` of a tree object, or undefined: found by comparing bytes, without making an
 * object and two strings of every entry (a tree of a million entries took seconds so).
 */
export function findTreeEntry(
  content: Buffer,
  oidBytes: number,
  name: string,
): { mode: string; oid: string } | undefined {
  const wanted = Buffer.from(name, 'utf8');
  let at = 0;
  while (at < content.length) {
    const space = content.indexOf(0x20, at);
    const nul = content.indexOf(0x00, space);
    if (space < 0 || nul < 0) return undefined;
    if (
      nul - space - 1 === wanted.length &&
      content.compare(wanted, 0, wanted.length, space + 1, nul) === 0
    ) {
      return {
        mode: content.subarray(at, space).toString('ascii'),
        oid: content.subarray(nul + 1, nul + 1 + oidBytes).toString('hex'),
      };
    }
    at = nul + 1 + oidBytes;
  }
  return undefined;
}
