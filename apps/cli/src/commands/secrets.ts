import type { Command } from 'commander';
import { CommandContext, environmentArgument, type CliIo } from '../context';
import { UsageError } from '../errors';
import { readAll, withoutFinalNewline } from '../stdin';

const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

export function registerSecrets(program: Command, io: CliIo): void {
  const secrets = program.command('secrets').description("a repository's build secrets");

  secrets
    .command('set')
    .description('create or replace a secret; the value is read from stdin, never from arguments')
    .argument('<repo>', 'repository id or owner/name')
    .argument('<name>', 'the variable name jobs see (letters, digits, _)')
    .option(
      '--environment <name>',
      'only deployments to this environment get it (repeatable)',
      (value: string, earlier: string[] = []) => [...earlier, value],
    )
    .addHelpText(
      'after',
      '\nThe value is stdin up to its end, less one final newline:\n' +
        '  kiln secrets set acme/app NPM_TOKEN < token.txt\n' +
        '  printf %s "$VALUE" | kiln secrets set acme/app NPM_TOKEN\n' +
        '  kiln secrets set acme/app DEPLOY_TOKEN --environment production < prod-token.txt',
    )
    .action(
      async (repo: string, name: string, options: { environment?: string[] }, command: Command) => {
        const ctx = CommandContext.of(io, command);
        if (!SECRET_NAME.test(name)) {
          throw new UsageError(
            `the secret name must be letters, digits and _, not starting with a digit: '${name}'`,
          );
        }
        const { id } = await ctx.repository(repo);
        if (io.stdin.isTTY === true) ctx.note(`type the value of ${name}, then Ctrl-D`);
        const value = withoutFinalNewline(await readAll(io.stdin));
        if (value === '') throw new UsageError(`no value for ${name} on stdin`);
        const scope = options.environment;
        for (const environment of scope ?? []) environmentArgument(environment);
        const answer = await ctx.client().putSecret(id, name, value, scope);
        if (ctx.json) return ctx.printJson(answer);
        const only = scope === undefined ? '' : ` (for ${scope.join(', ')} only)`;
        ctx.out(
          `${answer.created ? 'Created' : 'Updated'} secret ${answer.name} of ${repo}${only}\n`,
        );
      },
    );
}
