import { Option, type Command } from 'commander';
import type {
  Environment,
  EnvironmentBoardEntry,
  EnvironmentSettings,
  Promotion,
} from '../api-types';
import {
  CommandContext,
  environmentArgument,
  positiveInteger,
  wholeNumber,
  type CliIo,
} from '../context';
import { UsageError } from '../errors';
import { formatAge, shortSha, table } from '../output';
import { approvalsOf } from '../promotions';

/** The server's rule for one entry of `allowedBranches`: a branch name or a `*`/`**` glob. */
const BRANCH_GLOB = /^[^\s~^:?[\\]{1,255}$/;
const MAX_BRANCH_GLOBS = 50;

interface SetOptions {
  /** false: `--no-after`. */
  after?: string | false;
  approvals?: number;
  branches?: string[];
  anyBranch?: true;
  timeout?: number;
}

export function registerEnvs(program: Command, io: CliIo): void {
  const envs = program
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
        '  kiln envs acme/app production   # every promotion to production, newest first\n' +
        '  kiln envs set acme/app staging  # admins: add or change one (kiln envs set --help)\n\n' +
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
          if (board.length === 0) {
            return ctx.note(`${repo} has no environments (an admin adds them: kiln envs set)`);
          }
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

  envs
    .command('set')
    .description('create an environment or change its policy (admins)')
    .argument('<repo>', 'repository id or owner/name')
    .argument('<environment>', 'the environment to create or change', environmentArgument)
    .option('--after <env>', 'a run must have been deployed to <env> first', environmentArgument)
    .option('--no-after', 'first in the chain: no environment before it')
    .option(
      '--approvals <n>',
      'distinct release managers who must approve, never the requester (0-10)',
      wholeNumber('--approvals', 0, 10),
    )
    .addOption(
      new Option(
        '--branches <glob,glob>',
        'the branches runs may come from (main,release/*)',
      ).argParser(branchGlobs),
    )
    .addOption(new Option('--any-branch', 'runs may come from any branch').conflicts('branches'))
    .option(
      '--timeout <minutes>',
      'a promotion awaiting approval expires after this long (1-43200)',
      positiveInteger('--timeout', 43_200),
    )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  kiln envs set acme/app staging\n' +
        "  kiln envs set acme/app production --after staging --approvals 2 --branches 'main,release/*'\n" +
        '  kiln envs set acme/app production --approvals 1     # the rest stays as it was\n\n' +
        'What is not given keeps its value; a new environment starts first in the chain, with no\n' +
        'approval, any branch and a timeout of 1440 minutes. The server refuses (exit 3) an --after\n' +
        'it does not know or that would close a cycle.',
    )
    .action(async (repo: string, environment: string, options: SetOptions, command: Command) => {
      const ctx = CommandContext.of(io, command);
      const { id } = await ctx.repository(repo);
      const saved = await ctx.client().saveEnvironment(id, environment, settingsOf(options));
      if (ctx.json) return ctx.printJson(saved);
      printEnvironment(ctx, repo, saved);
    });

  envs
    .command('delete')
    .description('delete an environment and its history (admins)')
    .argument('<repo>', 'repository id or owner/name')
    .argument('<environment>', 'the environment to delete', environmentArgument)
    .addHelpText(
      'after',
      '\nRefused (exit 3) while another environment comes after it or a promotion to it has not\n' +
        'ended. With --json, prints {"repositoryId":…,"environment":…,"deleted":true}.',
    )
    .action(async (repo: string, environment: string, _options: unknown, command: Command) => {
      const ctx = CommandContext.of(io, command);
      const { id } = await ctx.repository(repo);
      await ctx.client().deleteEnvironment(id, environment);
      if (ctx.json) return ctx.printJson({ repositoryId: id, environment, deleted: true });
      ctx.out(`Deleted environment ${environment} of ${repo}\n`);
    });
}

/** `main, release/*` as its globs, checked as the server checks them. */
function branchGlobs(value: string): string[] {
  const globs = value
    .split(',')
    .map((glob) => glob.trim())
    .filter((glob) => glob !== '');
  if (globs.length === 0) {
    throw new UsageError('--branches needs at least one branch or glob (--any-branch: all)');
  }
  if (globs.length > MAX_BRANCH_GLOBS) {
    throw new UsageError(`--branches takes at most ${MAX_BRANCH_GLOBS} globs, got ${globs.length}`);
  }
  const bad = globs.find((glob) => !BRANCH_GLOB.test(glob));
  if (bad !== undefined) {
    throw new UsageError(
      `--branches: '${bad}' is not a branch name or glob (no blanks, '~', '^', ':', '?', '[' or '\\')`,
    );
  }
  return globs;
}

/** Only what was given: the server keeps the rest as it was. */
function settingsOf(options: SetOptions): EnvironmentSettings {
  return {
    ...(options.after === undefined
      ? {}
      : { previous: options.after === false ? null : options.after }),
    ...(options.approvals === undefined ? {} : { requiredApprovals: options.approvals }),
    ...(options.anyBranch === true
      ? { allowedBranches: null }
      : options.branches === undefined
        ? {}
        : { allowedBranches: options.branches }),
    ...(options.timeout === undefined ? {} : { approvalTimeoutMinutes: options.timeout }),
  };
}

function printEnvironment(ctx: CommandContext, repo: string, environment: Environment): void {
  ctx.out(`Saved environment ${environment.name} of ${repo}\n`);
  const fields: [string, string][] = [
    ['after', environment.previous ?? '- (first in the chain)'],
    ['approvals', String(environment.requiredApprovals)],
    ['approval timeout', `${environment.approvalTimeoutMinutes} min`],
    ['branches', environment.allowedBranches?.join(', ') ?? 'any'],
  ];
  const width = Math.max(...fields.map(([label]) => label.length)) + 1;
  for (const [label, value] of fields) ctx.out(`  ${`${label}:`.padEnd(width)}  ${value}\n`);
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
