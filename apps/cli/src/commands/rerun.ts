import type { Command } from 'commander';
import {
  CommandContext,
  RUN_ARGUMENT_HELP,
  runArgument,
  type CliIo,
  type RunRef,
} from '../context';

export function registerRerun(program: Command, io: CliIo): void {
  program
    .command('rerun')
    .description('start a new run of the same commit, or with --failed the failed jobs again')
    .argument('<run>', RUN_ARGUMENT_HELP, runArgument)
    .option('--repo <repo>', 'the repository of a run named by its number')
    .option('--failed', 'rerun only the failed (and canceled) jobs, in the same run')
    .action(async (ref: RunRef, options: { failed?: boolean; repo?: string }, command: Command) => {
      const ctx = CommandContext.of(io, command);
      const client = ctx.client();
      const runId = await ctx.runId(ref, options.repo);
      const run =
        options.failed === true ? await client.rerunFailed(runId) : await client.rerun(runId);
      if (ctx.json) return ctx.printJson(run);
      ctx.out(
        options.failed === true
          ? `Rerunning the failed jobs of run #${run.number} (${run.id})\n`
          : `Started run #${run.number}: ${run.id}\n`,
      );
      ctx.out(`Follow it with: kiln run watch ${run.id}\n`);
    });
}
