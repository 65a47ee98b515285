import type { Command } from 'commander';
import { CommandContext, type CliIo } from '../context';
import { shortSha } from '../output';

export function registerTrigger(program: Command, io: CliIo): void {
  program
    .command('trigger')
    .description("start a run of a branch (default: the repository's default branch)")
    .argument('<repo>', 'repository id or owner/name')
    .option('-b, --branch <branch>', 'the branch to build')
    .option('--sha <sha>', 'a full commit id on that branch (default: its head)')
    .action(async (repo: string, options: { branch?: string; sha?: string }, command: Command) => {
      const ctx = CommandContext.of(io, command);
      const { id } = await ctx.repository(repo);
      const run = await ctx.client().triggerRun(id, {
        ...(options.branch === undefined ? {} : { branch: options.branch }),
        ...(options.sha === undefined ? {} : { sha: options.sha }),
      });
      if (ctx.json) return ctx.printJson(run);
      ctx.out(
        `Started run #${run.number} of ${run.branch ?? run.ref} at ${shortSha(run.sha)}: ${run.id}\n` +
          `Follow it with: kiln run watch ${run.id}\n`,
      );
    });
}
