import 'reflect-metadata';
import { exitOnBootFailure, runDaemon } from '@kiln/common';
import { AgentEnv, loadEnv } from '@kiln/config';
import { AgentModule } from './agent.module';

async function main(): Promise<void> {
  const env = loadEnv(AgentEnv);
  await runDaemon({
    name: 'kiln-agent',
    logLevel: env.KILN_LOG_LEVEL,
    module: AgentModule.forRoot(env),
    shutdownTimeoutMs: 5_000,
  });
}

main().catch(exitOnBootFailure('kiln-agent'));
