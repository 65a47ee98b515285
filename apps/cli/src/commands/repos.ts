import type { Command } from 'commander';
import { CommandContext, type CliIo } from '../context';
import { table } from '../output';

export function registerRepos(program: Command, io: CliIo): void {
  program
    .command('repos')
    .description('list the registered repositories')
    .action(async (_options: unknown, command: Command) => {
      const ctx = CommandContext.of(io, command);
      const repositories = await ctx.client().listRepositories();
      if (ctx.json) return ctx.printJson(repositories);
      if (repositories.length === 0) return ctx.note('no repositories are registered');
      ctx.out(
        table(
          ['ID', 'FORGE', 'NAME', 'DEFAULT BRANCH'],
          repositories.map((r) => [r.id, r.forge, r.fullName, r.defaultBranch]),
        ),
      );
    });
}
