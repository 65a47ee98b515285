import { runHttpApp } from '@kiln/common';
import { loadEnv, ServerEnv } from '@kiln/config';
import { EphemeralRedis } from '@kiln/queue/testing';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppModule } from '../../../apps/server/src/app.module';
import { SERVER_BODY_LIMIT, SERVER_RAW_BODY_PATHS } from '../../../apps/server/src/body-limit';

export interface ServerApp {
  app: NestExpressApplication;
  url: string;
  /** A directory of the test's own (the server's data directory is `data` inside it). */
  dir: string;
  /** The server's own Redis, for tests that stop and start it under the server. */
  redis: EphemeralRedis;
  close(): Promise<void>;
}

/**
 * The server in this process, as main.ts boots it, on SQLite and a Redis of its own, with no
 * master (the build framework keeps retrying, which these tests do not need): for tests that
 * look inside the app (its router) or need many quick calls.
 */
export async function startServerApp(
  options: {
    env?: Record<string, string>;
    configure?: (app: NestExpressApplication) => void | Promise<void>;
  } = {},
): Promise<ServerApp> {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-server-app-'));
  const redis = await EphemeralRedis.start();
  try {
    const env = loadEnv(ServerEnv, {
      KILN_DATA_DIR: join(dir, 'data'),
      KILN_PORT: '0',
      REDIS_URL: redis.url,
      KILN_CLUSTER_TOKEN: 'in-process-cluster-token-0123',
      KILN_MASTER_URL: 'http://127.0.0.1:9',
      KILN_LOG_LEVEL: 'error',
      ...options.env,
    });
    const app = await runHttpApp({
      name: 'kiln-server',
      logLevel: 'error',
      module: AppModule.forRoot(env),
      host: '127.0.0.1',
      port: 0,
      shutdownTimeoutMs: 5_000,
      bodyLimit: SERVER_BODY_LIMIT,
      rawBodyPaths: SERVER_RAW_BODY_PATHS,
      ...(options.configure === undefined ? {} : { configure: options.configure }),
    });
    const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
    return {
      app,
      url,
      dir,
      redis,
      close: async () => {
        await app.close();
        await redis.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
