import type { LogChunkMessage, LogSinkInfo } from '@kiln/contracts';
import { TaskLogsRepository, type TaskStepEvent } from '@kiln/persistence';
import {
  BadRequestException,
  Injectable,
  Logger,
  NotFoundException,
  type BeforeApplicationShutdown,
} from '@nestjs/common';
import { LogBus } from './log-bus';
import { LogFollower, toStepView, type LogEventSink, type StepView } from './log-follower';
import { latestTaskId, LogTasks } from './log-tasks';
import { renderWithinLimit } from './log-limit';
import { LogsConfig } from './logs.config';
import { secretMasker, type SecretMasker } from './mask';
import { extractStepMarkers, markerSafeEnd } from './step-markers';
import { TaskTokens } from './task-tokens';

/** How a chunk was taken: stored or seen before (`accepted`), or refused for a gap. */
export interface LogIngestResult {
  accepted: boolean;
  /** The offset the server expects next. */
  nextOffset: number;
}

/** What ingest needs of a task, prepared once per task and kept for a short while. */
interface IngestContext {
  nonce: string;
  stepNames: readonly string[];
  masker: SecretMasker;
}

/** Past this many tasks remembered, the expired ones are forgotten at the next insert. */
const INGEST_CACHE_SWEEP_SIZE = 1_000;

/**
 * Build logs: takes tasks' output from their agents (masked, with its step markers turned into
 * steps, up to the log limit), serves it whole or live, and the steps seen in it.
 */
@Injectable()
export class LogsService implements BeforeApplicationShutdown {
  private readonly logger = new Logger(LogsService.name);
  private readonly ingestContexts = new Map<string, { expires: number; context: IngestContext }>();
  private readonly followers = new Set<LogFollower>();

  constructor(
    private readonly logs: TaskLogsRepository,
    private readonly tasks: LogTasks,
    private readonly tokens: TaskTokens,
    private readonly bus: LogBus,
    private readonly config: LogsConfig,
  ) {}

  /** Where and how a task's agent sends its output; `serverUrl` is this server's public root. */
  logSink(taskId: string, serverUrl: string): LogSinkInfo {
    const path = `/api/v1/tasks/${encodeURIComponent(taskId)}/logs`;
    return { url: new URL(path, serverUrl).toString(), token: this.tokens.logToken(taskId) };
  }

  /** Stores the part of a chunk not seen yet (the caller has checked the task's token). */
  async ingest(taskId: string, chunk: LogChunkMessage): Promise<LogIngestResult> {
    if (chunk.taskId !== taskId) {
      throw new BadRequestException(`the chunk is of task ${chunk.taskId}, not of task ${taskId}`);
    }
    // A decoding is never shorter than its bytes (an invalid byte decodes to 3 bytes, U+FFFD).
    const encoded = Buffer.byteLength(chunk.data);
    if (encoded < chunk.bytes) {
      throw new BadRequestException(`data is shorter than the ${chunk.bytes} bytes it covers`);
    }
    // Nor longer, but for what invalid bytes decode to: U+FFFD, 3 bytes for at least 1 each.
    if (encoded - 2 * replacementCharacters(chunk.data) > chunk.bytes) {
      throw new BadRequestException(`data is longer than the ${chunk.bytes} bytes it covers`);
    }
    const context = await this.ingestContext(taskId);
    const { limitBytes } = this.config;
    const { data, bytes } = storableNow(chunk, context.masker);
    const result = await this.logs.append(
      taskId,
      { offset: chunk.offset, bytes, data, eof: chunk.eof === true },
      (data, firstLine, range, inLine) =>
        renderWithinLimit(
          limitBytes,
          (piece, line, pieceInLine) => render(context, piece, line, pieceInLine),
          data,
          firstLine,
          range,
          inLine,
        ),
    );
    switch (result.outcome) {
      case 'appended':
        this.bus.publish({ chunk: result.chunk, steps: result.steps });
        return { accepted: true, nextOffset: result.nextOffset };
      case 'seen':
        return { accepted: true, nextOffset: result.nextOffset };
      case 'gap':
        return { accepted: false, nextOffset: result.nextOffset };
    }
  }

  /** The stored text of a job's attempt (the latest by default), read page by page. */
  async text(jobId: string, attempt?: number): Promise<AsyncIterable<string>> {
    const taskId = await this.taskOf(jobId, attempt);
    const { logs } = this;
    const { pageSize } = this.config;
    return (async function* () {
      if (taskId === undefined) return;
      let from = 0;
      for (;;) {
        const chunks = await logs.readFromOffset(taskId, from, pageSize);
        for (const chunk of chunks) if (chunk.text !== '') yield chunk.text;
        const last = chunks.at(-1);
        if (last === undefined || last.eof || chunks.length < pageSize) return;
        from = last.offset + last.bytes;
      }
    })();
  }

  /** The steps of a job's attempt (the latest by default). */
  async steps(jobId: string, attempt?: number): Promise<StepView[]> {
    const taskId = await this.taskOf(jobId, attempt);
    if (taskId === undefined) return [];
    return (await this.logs.listSteps(taskId)).map(toStepView);
  }

  /**
   * Prepares to follow a job's log: the attempt is chosen now (the latest by default), so an
   * unknown job fails before anything is streamed. The returned function streams to a sink
   * until the log ends or the receiver goes.
   */
  async follow(
    jobId: string,
    options: { attempt?: number; from?: number },
  ): Promise<(sink: LogEventSink) => Promise<void>> {
    const taskId = await this.taskOf(jobId, options.attempt);
    return async (sink) => {
      const follower = new LogFollower(
        {
          logs: this.logs,
          bus: this.bus,
          tasks: this.tasks,
          config: this.config,
          logger: this.logger,
        },
        { jobId, attempt: options.attempt },
        taskId,
        options.from ?? 0,
        sink,
      );
      this.followers.add(follower);
      try {
        await follower.run();
      } finally {
        this.followers.delete(follower);
      }
    };
  }

  /** Live streams would hold the HTTP server open: end them (their clients reconnect). */
  beforeApplicationShutdown(): void {
    for (const follower of this.followers) follower.stop();
  }

  /**
   * The task of a job's attempt (the latest that launched one by default); undefined when that
   * attempt has none: not launched yet, or ended before it launched.
   */
  private async taskOf(jobId: string, attempt: number | undefined): Promise<string | undefined> {
    const job = await this.tasks.ofJob(jobId);
    if (job === undefined) throw new NotFoundException(`job ${jobId} does not exist`);
    if (attempt === undefined) return latestTaskId(job);
    if (attempt > job.attempt) {
      throw new NotFoundException(`job ${jobId} has no attempt ${attempt} (it has ${job.attempt})`);
    }
    return job.taskIds.get(attempt);
  }

  private async ingestContext(taskId: string): Promise<IngestContext> {
    const now = Date.now();
    const cached = this.ingestContexts.get(taskId);
    if (cached !== undefined && cached.expires > now) return cached.context;
    const task = await this.tasks.forIngest(taskId);
    if (task === undefined) throw new NotFoundException(`task ${taskId} does not exist`);
    const nonce = this.tokens.stepNonce(taskId);
    const context: IngestContext = {
      nonce,
      stepNames: task.stepNames,
      // The nonce too: markers are taken out before masking, and a nonce anywhere else in the
      // text (a marker some way broken) must not reach a reader who could hand it to the build.
      masker: secretMasker([...task.secrets, nonce]),
    };
    if (this.ingestContexts.size >= INGEST_CACHE_SWEEP_SIZE) {
      for (const [id, entry] of this.ingestContexts) {
        if (entry.expires <= now) this.ingestContexts.delete(id);
      }
    }
    this.ingestContexts.set(taskId, { expires: now + this.config.ingestCacheMs, context });
    return context;
  }
}

/**
 * The part of a chunk stored now. An agent cuts a line in the middle only when it is longer than a
 * whole chunk: what could be the start of a secret or of a step marker at the end of such a chunk
 * is held back (the answer's `nextOffset` says where the agent goes on from), so that a secret the
 * cut falls in is masked whole, and a marker found whole, in the next chunk. Anything else, and a
 * chunk that would otherwise store nothing, is stored whole.
 */
function storableNow(
  chunk: LogChunkMessage,
  masker: SecretMasker,
): { data: string; bytes: number } {
  const { data, bytes } = chunk;
  if (chunk.eof === true || data.endsWith('\n')) return { data, bytes };
  const end = Math.min(masker.safeEnd(data), markerSafeEnd(data));
  if (end === 0 || end >= data.length) return { data, bytes };
  const kept = data.slice(0, end);
  // Invalid bytes decode longer than they are (U+FFFD, 3 bytes for 1 to 3): the bytes kept are
  // counted on a side without them, where the count is exact. Counted from the front when the kept
  // text has none, else from the end: the part held back (a marker, the start of a secret) is what
  // must come again whole. Only when both sides have some is the count inexact, and then low: a
  // little of the text before comes again, never the start of what is held back lost.
  const keptBytes = kept.includes('\uFFFD')
    ? Math.max(0, bytes - Buffer.byteLength(data.slice(end)))
    : Buffer.byteLength(kept);
  return keptBytes === 0 ? { data, bytes } : { data: kept, bytes: keptBytes };
}

/** How many U+FFFD, the replacement of invalid bytes, are in `text`. */
function replacementCharacters(text: string): number {
  let count = 0;
  for (let at = text.indexOf('\uFFFD'); at >= 0; at = text.indexOf('\uFFFD', at + 1)) count++;
  return count;
}

/** Markers out first (they are not text), then the secrets masked in what is left. */
function render(
  context: IngestContext,
  data: string,
  firstLine: number,
  inLine: boolean,
): { text: string; steps: TaskStepEvent[] } {
  const { text, steps } = extractStepMarkers(data, context.nonce, firstLine, inLine);
  return {
    text: context.masker.mask(text),
    steps: steps.map((step) =>
      step.kind === 'start'
        ? { ...step, name: context.stepNames[step.idx] ?? `step ${step.idx}` }
        : step,
    ),
  };
}
