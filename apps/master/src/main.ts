import 'reflect-metadata';
import { exitOnBootFailure, runHttpApp } from '@kiln/common';
import { loadEnv, MasterEnv } from '@kiln/config';
import { MasterModule } from './master.module';

async function main(): Promise<void> {
  const env = loadEnv(MasterEnv);
  const app = await runHttpApp({
    name: 'kiln-master',
    logLevel: env.KILN_LOG_LEVEL,
    module: MasterModule.forRoot(env),
    host: env.KILN_MASTER_HOST,
    port: env.KILN_MASTER_PORT,
    shutdownTimeoutMs: 5_000,
  });
  process.stdout.write(`Kiln master is up: ${await app.getUrl()}\n`);
}

main().catch(exitOnBootFailure('kiln-master'));
