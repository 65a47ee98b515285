import { backoffDelay, errorMessage, sleep } from '@kiln/common';
import { LOG_CHUNK_MAX_BYTES, type LogChunkMessage, type LogSinkInfo } from '@kiln/contracts';
import { Logger } from '@nestjs/common';
import { constants as fsConstants, watch, type FSWatcher } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { basename, dirname } from 'node:path';

/** How far a task's log has been shipped: what the agent checkpoints to resume after a restart. */
export interface LogProgress {
  /** The byte of the output the sink expects next. */
  offset: number;
  /** The `seq` of the next chunk. */
  seq: number;
  /** The sink has the whole log (eof accepted), or refused it for good: nothing more to send. */
  done?: boolean;
}

export type LogShipperOutcome = 'shipped' | 'refused' | 'stopped';

export interface LogShipperOptions {
  taskId: string;
  sink: LogSinkInfo;
  /** The task's standard output; it may not exist yet. */
  file: string;
  from?: LogProgress;
  /** Called whenever the sink moved the cursor; the caller decides how often to persist it. */
  onProgress?: (progress: LogProgress) => void;
  pollMs?: number;
  requestTimeoutMs?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
}

type Answer =
  /** `nextOffset`: where the sink stands now, when it says (it may keep less than it was sent). */
  | { kind: 'accepted'; nextOffset?: number }
  | { kind: 'rewind'; nextOffset: number }
  | { kind: 'refused'; why: string }
  | { kind: 'retry'; why: string };

/**
 * Ships one task's standard output to its log sink as {@link LogChunkMessage}s, following the
 * file as the task appends to it: one request in flight, the next chunk sent as soon as the
 * previous one is answered, so whatever was written meanwhile goes in one batch. The sink's
 * answers drive the cursor (a 409 moves it to where the sink wants it); failures that can heal
 * are retried forever, until {@link stop}. {@link end} says the task has terminated: the rest of
 * the file goes with `eof`.
 */
export class LogShipper {
  private readonly logger = new Logger(LogShipper.name);
  private readonly stopping = new AbortController();
  private readonly pollMs: number;
  private readonly requestTimeoutMs: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private offset: number;
  private seq: number;
  private ending = false;
  private wake: (() => void) | undefined;
  private watcher: FSWatcher | undefined;
  private handle: FileHandle | undefined;
  private readonly outcome: Promise<LogShipperOutcome>;

  constructor(private readonly options: LogShipperOptions) {
    this.offset = options.from?.offset ?? 0;
    this.seq = options.from?.seq ?? 0;
    this.pollMs = options.pollMs ?? 100;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.retryBaseMs = options.retryBaseMs ?? 250;
    this.retryMaxMs = options.retryMaxMs ?? 5_000;
    this.watch();
    this.outcome = this.run();
  }

  /** Settles (never rejects) once the eof chunk is accepted, the sink refused the log, or stop. */
  get done(): Promise<LogShipperOutcome> {
    return this.outcome;
  }

  get progress(): LogProgress {
    return { offset: this.offset, seq: this.seq };
  }

  /** The task has terminated, so its output is complete: ship the rest, then `eof`. */
  end(): void {
    this.ending = true;
    this.wake?.();
  }

  /** Abandons the request in flight and every timer; resolves once nothing is left running. */
  async stop(): Promise<LogShipperOutcome> {
    this.stopping.abort();
    this.wake?.();
    return this.outcome;
  }

  private async run(): Promise<LogShipperOutcome> {
    const { taskId } = this.options;
    let attempt = 0;
    try {
      while (!this.stopping.signal.aborted) {
        // Read before the file: once the task has ended, nothing appends to it any more, so a
        // read made after seeing `ending` sees the whole output.
        const ending = this.ending;
        const chunk = await this.nextChunk(ending);
        if (chunk === undefined) {
          await this.idle();
          continue;
        }
        const answer = await this.post(chunk);
        switch (answer.kind) {
          case 'accepted': {
            attempt = 0;
            // The server may keep less than a chunk it takes (the end of a line cut where a
            // secret may go on): the rest is sent again, with what follows it.
            const { nextOffset } = answer;
            const whole = chunk.offset + chunk.bytes;
            this.offset =
              nextOffset !== undefined && nextOffset > chunk.offset ? nextOffset : whole;
            this.seq += 1;
            if (chunk.eof === true && this.offset >= whole) {
              this.report(true);
              return 'shipped';
            }
            this.report(false);
            break;
          }
          case 'rewind':
            attempt = 0;
            this.offset = answer.nextOffset;
            this.seq += 1;
            this.report(false);
            break;
          case 'refused':
            // 401, 403, 404, 400 do not heal: retrying would only hammer the server.
            this.logger.warn(`the log sink refused the log of task ${taskId}: ${answer.why}`);
            this.report(true);
            return 'refused';
          case 'retry':
            if (this.stopping.signal.aborted) break;
            attempt += 1;
            if (attempt === 1) {
              this.logger.warn(
                `shipping the log of task ${taskId} failed, retrying: ${answer.why}`,
              );
            }
            await sleep(
              backoffDelay(attempt, this.retryBaseMs, this.retryMaxMs),
              this.stopping.signal,
            );
            break;
        }
      }
      return 'stopped';
    } catch (error) {
      // Only the file can throw here (an unreadable sandbox): nothing sensible to retry.
      this.logger.error(`shipping the log of task ${taskId} stopped: ${errorMessage(error)}`);
      return 'stopped';
    } finally {
      this.watcher?.close();
      await this.handle?.close().catch(() => undefined);
    }
  }

  private report(done: boolean): void {
    this.options.onProgress?.({ ...this.progress, ...(done ? { done } : {}) });
  }

  /** The next chunk to send from the cursor, or undefined while there is nothing to send yet. */
  private async nextChunk(ending: boolean): Promise<LogChunkMessage | undefined> {
    const handle = await this.file();
    const size = handle === undefined ? 0 : (await handle.stat()).size;
    const available = Math.max(0, size - this.offset);
    if (available === 0 && !ending) return undefined;
    const buffer = Buffer.alloc(Math.min(available, LOG_CHUNK_MAX_BYTES));
    const { bytesRead } =
      handle === undefined || buffer.length === 0
        ? { bytesRead: 0 }
        : await handle.read(buffer, 0, buffer.length, this.offset);
    const read = buffer.subarray(0, bytesRead);
    const last = ending && bytesRead === available;
    const bytes = last ? read.length : chunkLength(read, LOG_CHUNK_MAX_BYTES);
    if (bytes === 0 && !last) return undefined;
    return {
      taskId: this.options.taskId,
      seq: this.seq,
      offset: this.offset,
      bytes,
      data: read.toString('utf8', 0, bytes),
      ...(last ? { eof: true } : {}),
    };
  }

  /**
   * The output file, opened once. Never through a symbolic link, and only a regular file (a FIFO
   * would block the open): the task works elsewhere, in its workspace, but should anything replace
   * the file with a link, the agent must not ship the host file it points at.
   */
  private async file(): Promise<FileHandle | undefined> {
    if (this.handle !== undefined) return this.handle;
    const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = fsConstants;
    let handle: FileHandle;
    try {
      handle = await open(this.options.file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    } catch (error) {
      // The containerizer creates the file when the task starts: until then there is no output.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    if (!(await handle.stat()).isFile()) {
      await handle.close();
      throw new Error(`${this.options.file} is not a regular file`);
    }
    this.handle = handle;
    return handle;
  }

  /** Waits for more output: a short poll, cut short by the file watcher, end() or stop(). */
  private idle(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.wake?.(), this.pollMs);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      if (this.stopping.signal.aborted) this.wake();
    });
  }

  private watch(): void {
    const name = basename(this.options.file);
    try {
      // Only an accelerator (the poll alone is enough), so any failure just leaves the poll.
      this.watcher = watch(dirname(this.options.file), { persistent: false }, (_event, file) => {
        if (file === null || file === name) this.wake?.();
      });
      this.watcher.on('error', () => this.watcher?.close());
    } catch {
      this.watcher = undefined;
    }
  }

  private async post(chunk: LogChunkMessage): Promise<Answer> {
    const request = new AbortController();
    const timer = setTimeout(
      () => request.abort(new Error(`no answer within ${this.requestTimeoutMs} ms`)),
      this.requestTimeoutMs,
    );
    const abandon = (): void => request.abort(new Error('the agent is stopping'));
    this.stopping.signal.addEventListener('abort', abandon, { once: true });
    if (this.stopping.signal.aborted) abandon();
    try {
      const res = await fetch(this.options.sink.url, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${this.options.sink.token}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify(chunk),
        signal: request.signal,
      });
      const text = await res.text();
      if (res.ok) {
        const nextOffset = nextOffsetOf(text);
        return nextOffset === undefined ? { kind: 'accepted' } : { kind: 'accepted', nextOffset };
      }
      if (res.status === 409) {
        const nextOffset = nextOffsetOf(text);
        if (nextOffset !== undefined) return { kind: 'rewind', nextOffset };
        return { kind: 'refused', why: `409 without a nextOffset: ${text.slice(0, 200)}` };
      }
      const why = `answered ${res.status}: ${text.slice(0, 200)}`;
      return res.status >= 400 && res.status < 500
        ? { kind: 'refused', why }
        : { kind: 'retry', why };
    } catch (error) {
      const cause = request.signal.aborted ? (request.signal.reason as unknown) : error;
      return { kind: 'retry', why: errorMessage(cause) };
    } finally {
      clearTimeout(timer);
      this.stopping.signal.removeEventListener('abort', abandon);
    }
  }
}

/**
 * How many bytes of `buffer` (read from the cursor, at most `max` long) make the next chunk:
 * up to its last newline; a line that fills the whole buffer is cut at its last whole UTF-8
 * character. 0 while a shorter line is still waiting for its newline.
 */
export function chunkLength(buffer: Buffer, max: number): number {
  const newline = buffer.lastIndexOf(0x0a);
  if (newline >= 0) return newline + 1;
  if (buffer.length < max) return 0;
  let start = buffer.length - 1;
  while (start > buffer.length - 4 && start > 0 && (buffer[start]! & 0xc0) === 0x80) start -= 1;
  const lead = buffer[start]!;
  const width = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  // Not UTF-8 at all (no lead byte in reach): any cut is as good as another.
  return start > 0 && start + width > buffer.length ? start : buffer.length;
}

function nextOffsetOf(text: string): number | undefined {
  try {
    const { nextOffset } = JSON.parse(text) as { nextOffset?: unknown };
    return Number.isSafeInteger(nextOffset) && (nextOffset as number) >= 0
      ? (nextOffset as number)
      : undefined;
  } catch {
    return undefined;
  }
}
