import type { Command } from 'commander';
import type { EnvironmentBoardEntry, Promotion } from '../api-types';
import { CommandContext, environmentArgument, positiveInteger, type CliIo } from '../context';
import { UsageError } from '../errors';
import { formatAge, shortSha, table } from '../output';
import { approvalsOf } from '../promotions';

export function registerEnvs(program: Command, io: CliIo): void {
  program
    .command('envs')
    .description("a repository's environments: what is deployed, what is on its way, what could be")
    .argument('<repo>', 'repository id or owner/name')
    .argument(
      '[environment]',
      'one environment: its deployment history instead',
      environmentArgument,
    )
    .option(
      '-L, --limit <n>',
      'how many promotions of the history (1-100; default 20)',
      positiveInteger('--limit', 100),
    )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  kiln envs acme/app              # the board, environments in promotion order\n' +
        '  kiln envs acme/app production   # every promotion to production, newest first\n\n' +
        'The board shows per environment the run deployed there (who promoted it, when), the\n' +
        'promotions pending (awaiting approval k/N, queued, deploying) and up to 5 runs that may\n' +
        'be promoted next. The history marks rollbacks: a run older than what was deployed.',
    )
    .action(
      async (
        repo: string,
        environment: string | undefined,
        options: { limit?: number },
        command: Command,
      ) => {
        const ctx = CommandContext.of(io, command);
        if (environment === undefined && options.limit !== undefined) {
          throw new UsageError("--limit is for an environment's history: name the environment");
        }
        const { id } = await ctx.repository(repo);
        const client = ctx.client();
        if (environment === undefined) {
          const board = await client.listEnvironments(id);
          if (ctx.json) return ctx.printJson(board);
          if (board.length === 0) return ctx.note(`${repo} has no environments`);
          return printBoard(ctx, board);
        }
        const history = await client.listDeployments(id, environment, {
          ...(options.limit === undefined ? {} : { limit: options.limit }),
        });
        if (ctx.json) return ctx.printJson(history);
        if (history.length === 0) {
          return ctx.note(`nothing was promoted to ${environment} of ${repo} yet`);
        }
        printHistory(ctx, history);
      },
    );
}

function printBoard(ctx: CommandContext, board: EnvironmentBoardEntry[]): void {
  const now = ctx.io.now();
  ctx.out(
    table(
      ['ENVIRONMENT', 'DEPLOYED', 'SHA', 'BY', 'WHEN', 'PENDING', 'PROMOTABLE'],
      board.map(({ environment, current, pending, promotable }) => [
        environment.name,
        current === undefined
          ? '-'
          : `#${current.run.number}${current.rollback ? ' (rollback)' : ''}`,
        current === undefined ? '-' : shortSha(current.run.sha),
        current?.requestedBy ?? '-',
        current === undefined ? '-' : formatAge(current.finishedAt ?? current.requestedAt, now),
        pending.length === 0 ? '-' : pending.map(pendingOf).join(', '),
        promotable.length === 0 ? '-' : promotable.map((run) => `#${run.number}`).join(' '),
      ]),
    ),
  );
}

/** `#13 awaiting-approval 1/2`, `#12 deploying`, `#9 queued (rollback)`. */
function pendingOf(promotion: Promotion): string {
  const approvals = promotion.state === 'awaiting-approval' ? ` ${approvalsOf(promotion)}` : '';
  const rollback = promotion.rollback ? ' (rollback)' : '';
  return `#${promotion.run.number} ${promotion.state}${approvals}${rollback}`;
}

function printHistory(ctx: CommandContext, history: Promotion[]): void {
  const now = ctx.io.now();
  ctx.out(
    table(
      ['ID', 'RUN', 'SHA', 'BRANCH', 'STATE', 'APPROVALS', 'BY', 'WHEN', 'NOTE'],
      history.map((p) => [
        p.id,
        `#${p.run.number}`,
        shortSha(p.run.sha),
        p.run.branch ?? '-',
        p.state,
        approvalsOf(p),
        p.requestedBy,
        formatAge(p.finishedAt ?? p.startedAt ?? p.requestedAt, now),
        [p.rollback ? 'rollback' : undefined, p.statusMessage]
          .filter((note) => note !== undefined)
          .join('; '),
      ]),
      (column, value) => (column === 4 ? ctx.painter.state(value) : value),
    ),
  );
}
