import { Command, CommanderError } from 'commander';
import { registerAgents } from './commands/agents';
import { registerApprovals } from './commands/approvals';
import { registerApprove } from './commands/approve';
import { registerArtifacts } from './commands/artifacts';
import { registerCancel } from './commands/cancel';
import { registerEnvs } from './commands/envs';
import { registerLogin } from './commands/login';
import { registerLogs } from './commands/logs';
import { registerPromote } from './commands/promote';
import { registerRepos } from './commands/repos';
import { registerRerun } from './commands/rerun';
import { registerRun } from './commands/run';
import { registerRuns } from './commands/runs';
import { registerSecrets } from './commands/secrets';
import { registerTrigger } from './commands/trigger';
import type { CliIo } from './context';
import { ExitCode, ExitWith, exitCodeOf } from './errors';

const FOOTER = `
Configuration: --server / KILN_SERVER (default http://127.0.0.1:8080), --token / KILN_TOKEN;
otherwise what \`kiln login\` stored. NO_COLOR turns colours off.

Exit codes: 0 done (run watch: the run succeeded; promote --wait: deployed), 1 the run or
the promotion did not succeed, 2 usage error, 3 API or network error (a checksum mismatch too),
4 not found or not authorized.`;

export function createProgram(io: CliIo): Command {
  const program = new Command('kiln')
    .description('Kiln CI/CD from the command line')
    .version(io.version, '-V, --version')
    // KILN_SERVER and KILN_TOKEN are read by resolveConfig, which knows the stored login too.
    .option('--server <url>', 'the Kiln server (env: KILN_SERVER)')
    .option('--token <token>', 'the API token (env: KILN_TOKEN)')
    .option('--json', 'print JSON for scripts instead of text')
    .addHelpText('after', FOOTER)
    .showHelpAfterError('(kiln --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      outputError: (text, write) => write(`kiln: ${text.replace(/^error: /, '')}`),
    });
  registerLogin(program, io);
  registerRepos(program, io);
  registerRuns(program, io);
  registerTrigger(program, io);
  registerRun(program, io);
  registerLogs(program, io);
  registerCancel(program, io);
  registerRerun(program, io);
  registerArtifacts(program, io);
  registerPromote(program, io);
  registerApprove(program, io);
  registerApprovals(program, io);
  registerEnvs(program, io);
  registerAgents(program, io);
  registerSecrets(program, io);
  return program;
}

/** Runs one command line (without `node kiln`); resolves with the exit code, never rejects. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  try {
    await createProgram(io).parseAsync([...argv], { from: 'user' });
    return ExitCode.Ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and --version "exit" 0; anything else commander refuses is a usage error.
      return error.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
    }
    if (!(error instanceof ExitWith)) {
      io.stderr.write(`kiln: ${error instanceof Error ? error.message : String(error)}\n`);
    }
    return exitCodeOf(error);
  }
}
