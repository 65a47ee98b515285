import {
  Module,
  ValidationPipe,
  type DynamicModule,
  type INestApplicationContext,
  type NestApplicationOptions,
  type Type,
} from '@nestjs/common';
import { HttpAdapterHost, NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Logger, LoggerModule, PinoLogger } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import { HttpErrorFilter } from './http-error.filter';
import { loggerOf, loggerParams, requestLogging } from './logging';
import { useBodyParsing } from './request-body';

export interface HttpAppOptions {
  /** Process name used in messages and logs, e.g. `kiln-server`. */
  name: string;
  logLevel: string;
  /** Where log lines go: stdout, but for a test that reads them. */
  logDestination?: DestinationStream;
  module: Type | DynamicModule;
  host: string;
  port: number;
  /** After a signal, how long in-flight work may take before the process exits anyway. */
  shutdownTimeoutMs: number;
  /** The largest JSON or form body accepted (`'25mb'`); Nest's own default, `'100kb'`, if unset. */
  bodyLimit?: string;
  /** Path prefixes whose bodies are kept as bytes, not parsed: see {@link useBodyParsing}. */
  rawBodyPaths?: readonly string[];
  /** Body parsing is {@link useBodyParsing}'s: `bodyParser` and `rawBody` here are ignored. */
  nestOptions?: NestApplicationOptions;
  /** Last touches before listening (extra middleware, static files, OpenAPI). */
  configure?: (app: NestExpressApplication) => void | Promise<void>;
}

/** The root of a Kiln HTTP app: its logging (one logger, the boot's too), then the app's module. */
@Module({})
class HttpAppRoot {}

/**
 * Boots a Kiln HTTP process the same way for every app: pino logs through nestjs-pino (set up
 * here, not by the app's module) and {@link requestLogging}, one validation pipe, one error
 * filter, and a shutdown on SIGTERM/SIGINT that drains before it exits.
 *
 * Nest closes in this order: `onModuleDestroy` and `beforeApplicationShutdown` (stop workers and
 * timers), then the HTTP server (stop accepting, let in-flight requests finish), then
 * `onApplicationShutdown` (close database and Redis connections). Modules put their cleanup in
 * the hook that matches that order.
 */
export async function runHttpApp(options: HttpAppOptions): Promise<NestExpressApplication> {
  // The JSON logger exists before Nest does, so even a failed boot logs in the same format.
  const params = loggerParams(options.name, options.logLevel, options.logDestination);
  const logger = new Logger(new PinoLogger(params), params);
  const root: DynamicModule = {
    module: HttpAppRoot,
    imports: [LoggerModule.forRoot(params), options.module],
  };
  const app = await NestFactory.create<NestExpressApplication>(root, {
    logger,
    // Without this Nest calls process.abort() on a failed boot; we want a clear message instead.
    abortOnError: false,
    ...options.nestOptions,
    bodyParser: false,
    rawBody: false,
  });
  app.disable('x-powered-by');
  // An ETag per answer is a SHA-1 of its body, and no client of Kiln's API revalidates with one.
  app.set('etag', false);
  // First: a body the parsers refuse is answered and logged with the request's id.
  app.use(requestLogging(loggerOf(params)));
  useBodyParsing(app, options.bodyLimit ?? '100kb', options.rawBodyPaths);
  app.useGlobalPipes(
    new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }),
  );
  app.useGlobalFilters(new HttpErrorFilter(app.get(HttpAdapterHost)));
  await options.configure?.(app);
  closeOnSignals(app, logger, options);
  try {
    await app.listen(options.port, options.host);
  } catch (error) {
    await app.close();
    throw error;
  }
  return app;
}

export interface DaemonOptions {
  name: string;
  logLevel: string;
  module: Type | DynamicModule;
  shutdownTimeoutMs: number;
}

/**
 * Boots a Kiln process that serves no HTTP (the agent): the same logging and the same shutdown
 * on SIGTERM/SIGINT as {@link runHttpApp}; its modules start their work in their init hooks.
 */
export async function runDaemon(options: DaemonOptions): Promise<INestApplicationContext> {
  const params = loggerParams(options.name, options.logLevel);
  const logger = new Logger(new PinoLogger(params), params);
  const app = await NestFactory.createApplicationContext(options.module, {
    logger,
    abortOnError: false,
  });
  closeOnSignals(app, logger, options);
  await app.init();
  return app;
}

function closeOnSignals(
  app: INestApplicationContext,
  logger: Logger,
  options: { name: string; shutdownTimeoutMs: number },
): void {
  let closing = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (closing) {
      logger.warn(`${options.name}: second ${signal}, exiting without waiting`);
      process.exit(130);
    }
    closing = true;
    logger.log(`${options.name}: ${signal} received, shutting down`);
    setTimeout(() => {
      logger.error(`${options.name}: shutdown took over ${options.shutdownTimeoutMs} ms, exiting`);
      process.exit(1);
    }, options.shutdownTimeoutMs).unref();
    app.close().then(
      () => {
        logger.log(`${options.name}: stopped`);
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, `${options.name}: shutdown failed`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/** Ends a process whose boot failed with one readable line on stderr and exit code 1. */
export function exitOnBootFailure(name: string): (error: unknown) => never {
  return (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${name}: cannot start: ${message}\n`);
    process.exit(1);
  };
}
