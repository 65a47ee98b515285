import type { Command } from 'commander';
import type { ApiClient } from '../api-client';
import type { Promotion } from '../api-types';
import { CommandContext, uuidArgument, type CliIo } from '../context';
import { printPromotion } from '../promotions';

type Decide = (
  client: ApiClient,
  promotionId: string,
  body: { comment?: string },
) => Promise<Promotion>;

/** `kiln approve` and `kiln reject`: one decision each, as the API has one route each. */
export function registerApprove(program: Command, io: CliIo): void {
  register(program, io, {
    name: 'approve',
    description: 'approve a promotion that awaits approval (release managers)',
    decide: (client, id, body) => client.approvePromotion(id, body),
    example: 'kiln approve 6c1f0b9e-2d4a-4e8b-9f3c-7a5d1e2b3c4d -m "checked on staging"',
  });
  register(program, io, {
    name: 'reject',
    description: 'reject a promotion that awaits approval: it ends rejected (release managers)',
    decide: (client, id, body) => client.rejectPromotion(id, body),
    example: 'kiln reject 6c1f0b9e-2d4a-4e8b-9f3c-7a5d1e2b3c4d -m "breaks the login page"',
  });
}

function register(
  program: Command,
  io: CliIo,
  verb: { name: string; description: string; decide: Decide; example: string },
): void {
  program
    .command(verb.name)
    .description(verb.description)
    .argument(
      '<promotion-id>',
      'the promotion (kiln approvals lists them)',
      uuidArgument('the promotion id'),
    )
    .option('-m, --comment <text>', 'why, for the requester and the history')
    .addHelpText(
      'after',
      `\nExample:\n  ${verb.example}\n\n` +
        'Prints the promotion as it is now. The requester cannot decide on their own promotion\n' +
        '(exit 4), nor anyone twice or once it no longer awaits approval (exit 3).',
    )
    .action(async (promotionId: string, options: { comment?: string }, command: Command) => {
      const ctx = CommandContext.of(io, command);
      const promotion = await verb.decide(ctx.client(), promotionId, {
        ...(options.comment === undefined ? {} : { comment: options.comment }),
      });
      if (ctx.json) return ctx.printJson(promotion);
      printPromotion(ctx, promotion);
    });
}
