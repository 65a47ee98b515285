import 'reflect-metadata';
import { exitOnBootFailure, runHttpApp } from '@kiln/common';
import { loadEnv, MasterEnv } from '@kiln/config';
import { MAX_FRAME_BYTES } from '@kiln/contracts';
import { MasterModule } from './master.module';

async function main(): Promise<void> {
  const env = loadEnv(MasterEnv);
  const app = await runHttpApp({
    name: 'kiln-master',
    logLevel: env.KILN_LOG_LEVEL,
    module: MasterModule.forRoot(env),
    host: env.KILN_MASTER_HOST,
    port: env.KILN_MASTER_PORT,
    // One call over HTTP is held to what a WebSocket frame of calls is: a RECONCILE of the most
    // tasks one may name, or an ACCEPT of thousands, must not be refused on one transport only.
    bodyLimit: `${MAX_FRAME_BYTES / 1024 / 1024}mb`,
    shutdownTimeoutMs: 5_000,
  });
  process.stdout.write(`Kiln master is up: ${await app.getUrl()}\n`);
}

main().catch(exitOnBootFailure('kiln-master'));
