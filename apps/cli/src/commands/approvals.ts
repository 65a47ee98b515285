import type { Command } from 'commander';
import { CommandContext, type CliIo } from '../context';
import { formatAge, formatDuration, shortSha, table } from '../output';
import { approvalsOf } from '../promotions';

export function registerApprovals(program: Command, io: CliIo): void {
  program
    .command('approvals')
    .description('the promotions awaiting your approval, oldest first')
    .addHelpText(
      'after',
      '\nPromotions on repositories where you are a release manager (admins: all), that you did\n' +
        'not request and have not decided on yet. Decide with:\n' +
        '  kiln approve <promotion-id> [-m <text>]\n' +
        '  kiln reject <promotion-id> [-m <text>]',
    )
    .action(async (_options: unknown, command: Command) => {
      const ctx = CommandContext.of(io, command);
      const inbox = await ctx.client().listApprovals();
      if (ctx.json) return ctx.printJson(inbox);
      if (inbox.length === 0) return ctx.note('no promotions await your approval');
      const now = io.now();
      ctx.out(
        table(
          [
            'ID',
            'REPOSITORY',
            'RUN',
            'SHA',
            'ENVIRONMENT',
            'APPROVALS',
            'REQUESTED BY',
            'REQUESTED',
            'EXPIRES',
          ],
          inbox.map((p) => [
            p.id,
            p.repositoryFullName,
            `#${p.run.number}`,
            shortSha(p.run.sha),
            p.rollback ? `${p.environment} (rollback)` : p.environment,
            approvalsOf(p),
            p.requestedBy,
            formatAge(p.requestedAt, now),
            p.expiresAt === undefined
              ? '-'
              : `in ${formatDuration(new Date(p.expiresAt).getTime() - now.getTime())}`,
          ]),
        ),
      );
    });
}
