import type { Command } from 'commander';
import { writeStoredConfig } from '../config';
import { CommandContext, type CliIo } from '../context';
import { UsageError } from '../errors';
import { readAll } from '../stdin';

export function registerLogin(program: Command, io: CliIo): void {
  program
    .command('login')
    .description('check a token against the server and store both for later commands')
    .addHelpText(
      'after',
      '\nThe token comes from --token, KILN_TOKEN, or stdin (keeps it out of shell history):\n' +
        '  kiln login --server https://kiln.example.com < token.txt\n' +
        'Stored in $XDG_CONFIG_HOME/kiln/config.json (~/.config/kiln/config.json), mode 0600.',
    )
    .action(async (_options: unknown, command: Command) => {
      const ctx = CommandContext.of(io, command);
      const { server } = ctx.config;
      let token = ctx.options.token ?? io.env.KILN_TOKEN;
      if (token === undefined || token === '') {
        if (io.stdin.isTTY === true) {
          throw new UsageError('give the token with --token, KILN_TOKEN or on stdin');
        }
        token = (await readAll(io.stdin)).trim();
        if (token === '') throw new UsageError('no token on stdin');
      }
      // Any authenticated read proves the token; the repository list is the cheapest there is.
      await ctx.client({ server, token }).listRepositories();
      writeStoredConfig(ctx.configPath, { server, token });
      if (ctx.json) ctx.printJson({ server, configPath: ctx.configPath });
      else ctx.out(`Logged in to ${server} (saved in ${ctx.configPath})\n`);
    });
}
