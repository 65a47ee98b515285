import type { Command } from 'commander';
import { describe, type ApiClient } from '../api-client';
import type { Promotion, RunDetails } from '../api-types';
import { CommandContext, environmentArgument, positiveInteger, type CliIo } from '../context';
import { ExitCode, ExitWith } from '../errors';
import { clock, elapsed } from '../output';
import {
  describePromotionChange,
  diffPromotion,
  isPromotionEnded,
  printPromotion,
  promotionTitle,
  type PromotionChange,
} from '../promotions';
import { diffRun, isTerminal, pollUntil, type WatchChange } from '../watch';
import { describeChange, labelOf } from './run';

interface PromoteOptions {
  comment?: string;
  wait?: boolean;
  interval: number;
}

export function registerPromote(program: Command, io: CliIo): void {
  program
    .command('promote')
    .description('ask to deploy a successful run to an environment (release managers)')
    .argument('<repo>', 'repository id or owner/name')
    .argument(
      '<run-number>',
      'the run to promote, by its number',
      positiveInteger('the run number'),
    )
    .argument('<environment>', 'where to deploy it (staging, production, …)', environmentArgument)
    .option('-m, --comment <text>', 'why, for the approvers and the history')
    .option('-w, --wait', 'follow it until it ends: exit 0 when deployed, 1 when not')
    .option(
      '--interval <ms>',
      'how often to look with --wait',
      positiveInteger('--interval', 60_000),
      2_000,
    )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  kiln promote acme/app 42 staging\n' +
        '  kiln promote acme/app 42 production -m "release 1.4" --wait\n\n' +
        'Prints the promotion: its state, approvals given of those required, what it waits for.\n' +
        'With --wait, one line per change (approvals, the deploy run and its jobs) until it ends;\n' +
        'exits 0 when deployed, 1 when it failed, was rejected, expired or was canceled. With\n' +
        '--wait --json, one JSON object per line for each change ({"kind":"promotion"|"run"|"job",…}),\n' +
        'then the ended promotion.',
    )
    .action(
      async (
        repo: string,
        number: number,
        environment: string,
        options: PromoteOptions,
        command: Command,
      ) => {
        const ctx = CommandContext.of(io, command);
        const client = ctx.client();
        const run = await ctx.run(repo, number);
        const promotion = await client.promote(run.id, {
          environment,
          ...(options.comment === undefined ? {} : { comment: options.comment }),
        });
        if (options.wait !== true) {
          if (ctx.json) return ctx.printJson(promotion);
          printPromotion(ctx, promotion);
          if (promotion.state === 'awaiting-approval') {
            ctx.out(`Another release manager approves it with: kiln approve ${promotion.id}\n`);
          }
          return;
        }
        if (ctx.json) ctx.printJsonLine(diffPromotion(undefined, promotion, io.now()));
        else printPromotion(ctx, promotion);
        const ended = await follow(ctx, client, promotion, options.interval);
        if (ctx.json) ctx.printJsonLine(ended);
        else printSummary(ctx, ended);
        if (ended.state !== 'deployed') throw new ExitWith(ExitCode.RunFailed);
      },
    );
}

interface Look {
  promotion: Promotion;
  /** Its deploy run with the jobs, once there is one. */
  deployRun?: RunDetails;
}

/**
 * Polls the promotion until it ends, and its deploy run alongside once it has one, printing each
 * change the way `run watch` does; resolves with the ended promotion.
 */
async function follow(
  ctx: CommandContext,
  client: ApiClient,
  started: Promotion,
  intervalMs: number,
): Promise<Promotion> {
  let previous: Look = { promotion: started };
  let width = 0;
  const print = (change: PromotionChange | WatchChange): void => {
    if (ctx.json) return ctx.printJsonLine(change);
    const label = change.kind === 'promotion' ? 'promotion' : labelOf(change);
    width = Math.max(width, label.length);
    const text =
      change.kind === 'promotion'
        ? describePromotionChange(ctx, change)
        : describeChange(ctx, change);
    ctx.out(`${clock(new Date(change.at))}  ${label.padEnd(width)}  ${text}\n`);
  };
  const look = async (): Promise<Look> => {
    const promotion = await client.getPromotion(started.id);
    const known = previous.deployRun;
    if (promotion.deployRun === undefined) return { promotion };
    // An ended deploy run changes no more: one look at it is enough.
    if (known?.id === promotion.deployRun.id && isTerminal(known.state)) {
      return { promotion, deployRun: known };
    }
    return { promotion, deployRun: await client.getRun(promotion.deployRun.id) };
  };
  const ended = await pollUntil(
    look,
    (next) => isPromotionEnded(next.promotion.state),
    (next) => {
      const at = ctx.io.now();
      const promotion = diffPromotion(previous.promotion, next.promotion, at);
      const sameRun = previous.deployRun?.id === next.deployRun?.id;
      const run =
        next.deployRun === undefined
          ? []
          : diffRun(sameRun ? previous.deployRun : undefined, next.deployRun, at);
      // An ending promotion comes after its deploy run's last changes, like a run after its jobs.
      const changes = isPromotionEnded(next.promotion.state)
        ? [...run, ...(promotion === undefined ? [] : [promotion])]
        : [...(promotion === undefined ? [] : [promotion]), ...run];
      for (const change of changes) print(change);
      previous = next;
    },
    {
      intervalMs,
      now: () => ctx.io.now(),
      sleep: (ms) => ctx.io.sleep(ms),
      onConnection: (lost, error) =>
        ctx.note(lost ? `lost ${client.server} (${describe(error)}); retrying` : 'reconnected'),
    },
  );
  return ended.promotion;
}

function printSummary(ctx: CommandContext, promotion: Promotion): void {
  const took = elapsed(promotion.requestedAt, promotion.finishedAt, ctx.io.now());
  ctx.out(
    `promotion of ${promotionTitle(promotion)} ${ctx.painter.state(promotion.state)} in ${took}\n`,
  );
  if (promotion.state !== 'deployed' && promotion.statusMessage !== undefined) {
    ctx.out(`  ${promotion.statusMessage}\n`);
  }
}
