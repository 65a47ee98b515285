import type { Command } from 'commander';
import { describe } from '../api-client';
import type { RunDetails } from '../api-types';
import {
  CommandContext,
  positiveInteger,
  RUN_ARGUMENT_HELP,
  runArgument,
  type CliIo,
  type RunRef,
} from '../context';
import { ExitCode, ExitWith } from '../errors';
import { clock, elapsed, shortSha, table } from '../output';
import { watchRun, type WatchChange } from '../watch';

export function registerRun(program: Command, io: CliIo): void {
  const run = program.command('run').description('look at one run');

  run
    .command('view')
    .description('show a run and its jobs')
    .argument('<run>', RUN_ARGUMENT_HELP, runArgument)
    .option('--repo <repo>', 'the repository of a run named by its number')
    .action(async (ref: RunRef, options: { repo?: string }, command: Command) => {
      const ctx = CommandContext.of(io, command);
      const details = await ctx.client().getRun(await ctx.runId(ref, options.repo));
      if (ctx.json) return ctx.printJson(details);
      printRun(ctx, details);
    });

  run
    .command('watch')
    .description('follow a run live, one line per change; exits 0 if it succeeds, 1 if not')
    .argument('<run>', RUN_ARGUMENT_HELP, runArgument)
    .option('--repo <repo>', 'the repository of a run named by its number')
    .option('--interval <ms>', 'how often to look', positiveInteger('--interval', 60_000), 300)
    .addHelpText(
      'after',
      '\nWith --json, one JSON object per line for each change ({"kind":"run"|"job",…}), then the\nended run.',
    )
    .action(async (ref: RunRef, options: { interval: number; repo?: string }, command: Command) => {
      const ctx = CommandContext.of(io, command);
      const client = ctx.client();
      const runId = await ctx.runId(ref, options.repo);
      let width = 0;
      const ended = await watchRun(() => client.getRun(runId), {
        intervalMs: options.interval,
        now: () => io.now(),
        sleep: (ms) => io.sleep(ms),
        onChange: (change) => {
          if (ctx.json) return ctx.printJsonLine(change);
          const label = labelOf(change);
          width = Math.max(width, label.length);
          ctx.out(
            `${clock(new Date(change.at))}  ${label.padEnd(width)}  ${describeChange(ctx, change)}\n`,
          );
        },
        onConnection: (lost, error) =>
          ctx.note(lost ? `lost ${client.server} (${describe(error)}); retrying` : 'reconnected'),
      });
      if (ctx.json) ctx.printJsonLine(ended);
      else printSummary(ctx, ended);
      if (ended.state !== 'success') throw new ExitWith(ExitCode.RunFailed);
    });
}

/** What a `run watch` line is about: the run, or a job by its key. */
export function labelOf(change: WatchChange): string {
  return change.kind === 'run' ? `run #${change.number}` : change.key;
}

/** A `run watch` line's text: the new state, the attempt, and why. */
export function describeChange(ctx: CommandContext, change: WatchChange): string {
  let text = ctx.painter.state(change.to);
  if (change.kind === 'job') {
    if (change.attempt > 1) text += ` (attempt ${change.attempt})`;
    // The server's reason names the exit code when there is one; say it ourselves otherwise.
    if (change.statusMessage !== undefined)
      text += `: ${withoutState(change.statusMessage, change.to)}`;
    else if (change.exitCode !== undefined && change.to === 'failure') {
      text += ` (exit ${change.exitCode})`;
    }
  }
  return text;
}

/** A job's reason without the state it may start with (`skipped: needs test`), said already. */
export function withoutState(statusMessage: string, state: string): string {
  return statusMessage.startsWith(`${state}: `)
    ? statusMessage.slice(state.length + 2)
    : statusMessage;
}

function printSummary(ctx: CommandContext, run: RunDetails): void {
  const took = elapsed(run.startedAt ?? run.createdAt, run.finishedAt, ctx.io.now());
  ctx.out(`run #${run.number} ${ctx.painter.state(run.state)} in ${took}\n`);
  for (const error of run.errors ?? []) ctx.out(`  ${error}\n`);
}

function printRun(ctx: CommandContext, run: RunDetails): void {
  const now = ctx.io.now();
  ctx.out(
    `run #${run.number} ${ctx.painter.state(run.state)}  ${run.event} ${run.branch ?? run.tag ?? run.ref} ` +
      `${shortSha(run.sha)}  ${elapsed(run.startedAt, run.finishedAt, now)}\n`,
  );
  for (const error of run.errors ?? []) ctx.out(`  ${error}\n`);
  if (run.jobs.length === 0) return;
  ctx.out('\n');
  ctx.out(
    table(
      ['JOB', 'ID', 'STATE', 'ATTEMPT', 'DURATION', 'WHY'],
      run.jobs.map((job) => [
        job.key,
        job.id,
        job.state,
        String(job.attempt),
        elapsed(job.startedAt, job.finishedAt, now),
        job.statusMessage === undefined
          ? job.exitCode === undefined
            ? ''
            : `exit ${job.exitCode}`
          : withoutState(job.statusMessage, job.state),
      ]),
      (column, value) => (column === 2 ? ctx.painter.state(value) : value),
    ),
  );
  for (const job of run.jobs) {
    const attempts = job.attempts ?? [];
    if (attempts.length < 2) continue;
    // A retried job: what each try did, the lost ones (a task given up) among them.
    ctx.out(`\nattempts of ${job.key}:\n`);
    ctx.out(
      table(
        ['#', 'STATE', 'TASK', 'DURATION', 'WHY'],
        attempts.map((attempt) => [
          String(attempt.attempt),
          attempt.state,
          attempt.taskId ?? '',
          elapsed(attempt.startedAt, attempt.finishedAt, now),
          attempt.statusMessage ??
            (attempt.exitCode === undefined ? '' : `exit ${attempt.exitCode}`),
        ]),
        (column, value) => (column === 1 ? ctx.painter.state(value) : value),
      ),
    );
  }
}
