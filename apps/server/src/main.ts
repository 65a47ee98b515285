import 'reflect-metadata';
import { exitOnBootFailure, runHttpApp } from '@kiln/common';
import { loadEnv, ServerEnv } from '@kiln/config';
import { AppModule } from './app.module';

async function main(): Promise<void> {
  const env = loadEnv(ServerEnv);
  const app = await runHttpApp({
    name: 'kiln-server',
    logLevel: env.KILN_LOG_LEVEL,
    module: AppModule.forRoot(env),
    host: env.KILN_HOST,
    port: env.KILN_PORT,
    shutdownTimeoutMs: env.KILN_SHUTDOWN_TIMEOUT_MS,
  });
  const url = await app.getUrl();
  process.stdout.write(`\nKiln is up: open ${url.replace('[::1]', 'localhost')}\n\n`);
}

main().catch(exitOnBootFailure('kiln-server'));
