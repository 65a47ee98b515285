import type { Command } from 'commander';
import { CommandContext, positiveInteger, type CliIo } from '../context';
import { elapsed, formatAge, shortSha, table } from '../output';

export function registerRuns(program: Command, io: CliIo): void {
  program
    .command('runs')
    .description('list the runs of a repository, newest first')
    .argument('<repo>', 'repository id or owner/name')
    .option('-L, --limit <n>', 'how many runs (1-200)', positiveInteger('--limit', 200), 20)
    .action(async (repo: string, options: { limit: number }, command: Command) => {
      const ctx = CommandContext.of(io, command);
      const { id } = await ctx.repository(repo);
      const page = await ctx.client().listRuns(id, { limit: options.limit });
      if (ctx.json) return ctx.printJson(page);
      if (page.runs.length === 0) return ctx.note(`no runs of ${repo} yet`);
      const now = io.now();
      ctx.out(
        table(
          ['#', 'STATE', 'EVENT', 'BRANCH', 'SHA', 'STARTED', 'DURATION'],
          page.runs.map((run) => [
            String(run.number),
            run.state,
            run.event,
            run.branch ?? run.tag ?? run.ref,
            shortSha(run.sha),
            formatAge(run.startedAt ?? run.createdAt, now),
            elapsed(run.startedAt, run.finishedAt, now),
          ]),
          (column, value) => (column === 1 ? ctx.painter.state(value) : value),
        ),
      );
    });
}
