import type { Command } from 'commander';
import { CommandContext, uuidArgument, type CliIo } from '../context';

export function registerCancel(program: Command, io: CliIo): void {
  program
    .command('cancel')
    .description('cancel a run: queued jobs end, running ones are killed')
    .argument('<run-id>', 'the run', uuidArgument('the run id'))
    .action(async (runId: string, _options: unknown, command: Command) => {
      const ctx = CommandContext.of(io, command);
      const run = await ctx.client().cancelRun(runId);
      if (ctx.json) return ctx.printJson(run);
      ctx.out(`Canceled run #${run.number} (${run.id})\n`);
    });
}
