import {
  PipelineConfigError,
  type ExecutionPlan,
  type PipelineProblem,
  type SkippedPipeline,
  type TriggerContext,
} from '@kiln/pipeline';
import type { OnApplicationShutdown } from '@nestjs/common';
import { join } from 'node:path';
import { Worker, type ResourceLimits } from 'node:worker_threads';

/** A file to compile, as the thread is given it. */
export interface CompileRequest {
  id: number;
  source: Uint8Array;
  context: TriggerContext;
  fileName: string;
}

/**
 * What the thread says: that it is loaded and compiles from now on, then for each file its plan,
 * its problems, or why the compiler itself failed.
 */
export type CompileAnswer =
  | { ready: true }
  | ({ id: number } & (
      | { compiled: ExecutionPlan | SkippedPipeline }
      | { problems: PipelineProblem[] }
      | { failure: string }
    ));

export interface PipelineCompilerOptions {
  /** How long one file may take to compile. */
  timeoutMs?: number;
  /** The thread's heap: a file whose compiling needs more is refused. */
  maxMemoryMb?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_MEMORY_MB = 256;

interface Waiting {
  request: CompileRequest;
  resolve: (compiled: ExecutionPlan | SkippedPipeline) => void;
  reject: (error: Error) => void;
}

/**
 * Compiles pipeline files on a thread of their own, one at a time. A `.kiln.yml` is written by
 * whoever pushes, a fork's pull request included: one made to be slow (a megabyte of short lines
 * took over a second here) or to fill memory held the server's event loop, and every webhook, API
 * call and log stream with it, for as long as it took. On the thread it holds only the files
 * queued behind it; one that takes longer than the timeout or more memory than the thread has is
 * refused as a problem of the file, and the thread is replaced.
 */
export class PipelineCompiler implements OnApplicationShutdown {
  private readonly timeoutMs: number;
  private readonly resourceLimits: ResourceLimits;
  private readonly queue: Waiting[] = [];
  private worker: Worker | undefined;
  /** Whether {@link worker} has loaded what it compiles with. */
  private ready = false;
  private current: { waiting: Waiting; timer?: NodeJS.Timeout } | undefined;
  private nextId = 0;
  private closed = false;

  constructor(options: PipelineCompilerOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const heap = options.maxMemoryMb ?? DEFAULT_MAX_MEMORY_MB;
    this.resourceLimits = { maxOldGenerationSizeMb: heap, maxYoungGenerationSizeMb: heap / 8 };
  }

  /** As `compilePipeline`: the plan, or a {@link PipelineConfigError} naming the file's problems. */
  compile(
    source: Uint8Array,
    context: TriggerContext,
    fileName: string,
  ): Promise<ExecutionPlan | SkippedPipeline> {
    if (this.closed) return Promise.reject(new Error('the pipeline compiler is shut down'));
    return new Promise((resolve, reject) => {
      const request = { id: (this.nextId += 1), source, context, fileName };
      this.queue.push({ request, resolve, reject });
      this.next();
    });
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    const stopped = new Error('the pipeline compiler is shut down');
    for (const waiting of this.queue.splice(0)) waiting.reject(stopped);
    this.settle((waiting) => waiting.reject(stopped));
    if (this.worker !== undefined) await this.retire(this.worker);
  }

  /** Hands the thread the next file, if it is free. */
  private next(): void {
    if (this.current !== undefined) return;
    const waiting = this.queue.shift();
    if (waiting === undefined) return;
    const worker = (this.worker ??= this.start());
    this.current = { waiting };
    worker.postMessage(waiting.request);
    if (this.ready) this.time(worker);
  }

  /** Starts the clock of the file in hand, which `worker` compiles now. */
  private time(worker: Worker): void {
    const current = this.current;
    if (current === undefined) return;
    current.timer = setTimeout(() => {
      void this.retire(worker);
      this.refuse(`it took longer than ${this.timeoutMs / 1000} s to compile`);
    }, this.timeoutMs);
  }

  private start(): Worker {
    const file = join(__dirname, 'pipeline-compiler.worker');
    const options = { resourceLimits: this.resourceLimits };
    // From the sources (the tests), the thread reads TypeScript through tsx, as the scripts do.
    const worker = __filename.endsWith('.ts')
      ? new Worker(`require('tsx/cjs'); require(${JSON.stringify(`${file}.ts`)});`, {
          ...options,
          eval: true,
        })
      : new Worker(`${file}.js`, options);
    this.ready = false;
    worker.on('message', (answer: CompileAnswer) => {
      if (this.worker !== worker) return;
      if ('ready' in answer) {
        this.ready = true;
        this.time(worker);
      } else {
        this.answered(answer);
      }
    });
    worker.on('error', (error: Error & { code?: string }) => {
      if (this.worker !== worker) return;
      // The thread is gone: the file in hand ends, and the next one gets a new thread.
      void this.retire(worker);
      if (error.code === 'ERR_WORKER_OUT_OF_MEMORY') {
        this.refuse(
          `compiling it needs more than ${this.resourceLimits.maxOldGenerationSizeMb} MB`,
        );
      } else {
        this.settle((waiting) =>
          waiting.reject(new Error(`the pipeline compiler failed: ${error.message}`)),
        );
      }
    });
    worker.on('exit', () => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.settle((waiting) => waiting.reject(new Error('the pipeline compiler stopped')));
    });
    // The server may exit with a thread idle: it holds nothing to wait for.
    worker.unref();
    return worker;
  }

  private answered(answer: Exclude<CompileAnswer, { ready: true }>): void {
    if (this.current?.waiting.request.id !== answer.id) return;
    this.settle(({ request, resolve, reject }) => {
      if ('compiled' in answer) resolve(answer.compiled);
      else if ('problems' in answer)
        reject(new PipelineConfigError(request.fileName, answer.problems));
      else reject(new Error(`the pipeline compiler failed: ${answer.failure}`));
    });
  }

  /** The file in hand is refused: its fault, not the compiler's. */
  private refuse(why: string): void {
    this.settle(({ request, reject }) =>
      reject(
        new PipelineConfigError(request.fileName, [
          { line: 1, column: 1, path: '', message: `the file is refused: ${why}` },
        ]),
      ),
    );
  }

  /** Ends the file in hand as `end` says, then hands the thread the next. */
  private settle(end: (waiting: Waiting) => void): void {
    const current = this.current;
    if (current === undefined) return;
    this.current = undefined;
    if (current.timer !== undefined) clearTimeout(current.timer);
    end(current.waiting);
    if (!this.closed) this.next();
  }

  /** Stops `worker`, which no file is given any more: the next file starts a new thread. */
  private retire(worker: Worker): Promise<number> {
    if (this.worker === worker) this.worker = undefined;
    return worker.terminate();
  }
}
