import type { Command } from 'commander';
import { describe, type ApiClient } from '../api-client';
import { CommandContext, positiveInteger, uuidArgument, type CliIo } from '../context';
import type { JobState } from '../api-types';
import { ApiError, ExitCode, ExitWith } from '../errors';
import { followEventStream } from '../sse';

interface LogsOptions {
  follow?: boolean;
  attempt?: number;
  raw?: boolean;
}

export function registerLogs(program: Command, io: CliIo): void {
  program
    .command('logs')
    .description("print a job's log; with -f follow it live until the job ends")
    .argument('<job-id>', 'the job', uuidArgument('the job id'))
    .option('-f, --follow', 'stream the log as it is written, until it ends')
    .option('--attempt <n>', 'which attempt (default: the latest)', positiveInteger('--attempt'))
    .option('--raw', "on a terminal too, every control sequence of the build's output")
    .addHelpText(
      'after',
      '\nThe log goes to stdout as the build wrote it; on a terminal, only its colours and\n' +
        'carriage returns of its control sequences (the build is untrusted: others could\n' +
        'write your clipboard or rewrite lines shown), unless --raw. With -f --json, one\n' +
        'line per event: {"event":"log"|"step"|"end","id":…,"data":{…}}.',
    )
    .action(async (jobId: string, options: LogsOptions, command: Command) => {
      const ctx = CommandContext.of(io, command);
      const client = ctx.client();
      const log = ctx.logWriter(options.raw === true);
      if (options.follow === true) {
        await follow(ctx, client, jobId, options.attempt, log);
        log.end();
        // The log of a job that failed is a failure to follow, as `run watch` has it.
        const state = await endedState(ctx, client, jobId, options.attempt);
        if (state !== 'success') throw new ExitWith(ExitCode.RunFailed);
        return;
      }
      const stream = await client.jobLog(jobId, options.attempt);
      const decoder = new TextDecoder();
      let text = '';
      for await (const chunk of stream) {
        const part = decoder.decode(chunk, { stream: true });
        if (ctx.json) text += part;
        else log.write(part);
      }
      const rest = decoder.decode();
      if (ctx.json) ctx.printJson({ jobId, text: text + rest });
      else {
        log.write(rest);
        log.end();
      }
    });
}

type LogEventData =
  { text?: string } | { reason?: 'eof' | 'job-ended' | 'retried'; taskId?: string | null };

/** Follows the log over SSE; a job retried meanwhile is followed into its next attempt. */
async function follow(
  ctx: CommandContext,
  client: ApiClient,
  jobId: string,
  attempt: number | undefined,
  log: { write(chunk: string): void },
): Promise<void> {
  for (;;) {
    const events = followEventStream({
      open: (lastEventId, signal) =>
        client.jobLogStream(jobId, {
          ...(attempt === undefined ? {} : { attempt }),
          ...(lastEventId === undefined ? {} : { lastEventId }),
          signal,
        }),
      retryable: (error) => !(error instanceof ApiError) || error.transient,
      onReconnect: (_failures, delayMs, error) =>
        ctx.note(`the log stream dropped (${describe(error)}); reconnecting in ${delayMs} ms`),
    });
    let reason: string | undefined;
    for await (const event of events) {
      let data: LogEventData;
      try {
        data = JSON.parse(event.data) as LogEventData;
      } catch {
        throw new ApiError(`the server sent a malformed ${event.event} event`, undefined);
      }
      if (ctx.json) {
        ctx.printJsonLine({
          event: event.event,
          ...(event.event === 'log' ? { id: event.lastEventId } : {}),
          data,
        });
      } else if (event.event === 'log' && 'text' in data && typeof data.text === 'string') {
        log.write(data.text);
      }
      if (event.event === 'end') {
        reason = 'reason' in data ? data.reason : undefined;
        break;
      }
    }
    if (reason !== 'retried' || attempt !== undefined) return;
    ctx.note('the job is being retried: following its next attempt');
  }
}

/** How often `logs -f` asks whether a job whose log is complete has ended too. */
const END_POLL_MS = 300;

/**
 * How the followed attempt ended. The log's end can come just before the job's: the job is asked
 * again until it has ended. An attempt before the latest ended without success (it was retried).
 */
async function endedState(
  ctx: CommandContext,
  client: ApiClient,
  jobId: string,
  attempt: number | undefined,
): Promise<JobState> {
  for (;;) {
    const job = await client.getJob(jobId);
    if (attempt !== undefined && attempt < job.attempt) return 'failure';
    if (!['blocked', 'queued', 'running'].includes(job.state)) return job.state;
    await ctx.io.sleep(END_POLL_MS);
  }
}
