import type { Command } from 'commander';
import {
  CommandContext,
  RUN_ARGUMENT_HELP,
  runArgument,
  type CliIo,
  type RunRef,
} from '../context';

export function registerCancel(program: Command, io: CliIo): void {
  program
    .command('cancel')
    .description('cancel a run: queued jobs end, running ones are killed')
    .argument('<run>', RUN_ARGUMENT_HELP, runArgument)
    .option('--repo <repo>', 'the repository of a run named by its number')
    .action(async (ref: RunRef, options: { repo?: string }, command: Command) => {
      const ctx = CommandContext.of(io, command);
      const run = await ctx.client().cancelRun(await ctx.runId(ref, options.repo));
      if (ctx.json) return ctx.printJson(run);
      ctx.out(`Canceled run #${run.number} (${run.id})\n`);
    });
}
