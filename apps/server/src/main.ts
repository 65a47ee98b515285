import 'reflect-metadata';
import { exitOnBootFailure, runHttpApp } from '@kiln/common';
import { loadEnv, ServerEnv } from '@kiln/config';
import { AppModule } from './app.module';
import { BootstrapToken } from './accounts/accounts.service';
import { SERVER_BODY_LIMIT, SERVER_RAW_BODY_PATHS } from './body-limit';
import { setupOpenApi } from './openapi';
import { ServerUrl } from './server-url';
import { serveWebApp } from './web-app';

async function main(): Promise<void> {
  const env = loadEnv(ServerEnv);
  const app = await runHttpApp({
    name: 'kiln-server',
    logLevel: env.KILN_LOG_LEVEL,
    module: AppModule.forRoot(env),
    host: env.KILN_HOST,
    port: env.KILN_PORT,
    shutdownTimeoutMs: env.KILN_SHUTDOWN_TIMEOUT_MS,
    bodyLimit: SERVER_BODY_LIMIT,
    // Webhooks get the exact bytes received: their signatures are computed over them.
    rawBodyPaths: SERVER_RAW_BODY_PATHS,
    configure: (app) => {
      serveWebApp(app);
      // The OpenAPI document at /api/openapi.json, browsable at /api/docs.
      setupOpenApi(app);
    },
  });
  const url = await app.getUrl();
  app.get(ServerUrl).listening(url);
  const shown = url.replace('[::1]', 'localhost');
  const token =
    env.KILN_API_TOKEN === undefined ? app.get(BootstrapToken).value : '(KILN_API_TOKEN)';
  process.stdout.write(`\nKiln is up: open ${shown}\nAPI token: ${token}\n\n`);
}

main().catch(exitOnBootFailure('kiln-server'));
