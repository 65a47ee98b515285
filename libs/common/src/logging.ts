import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Params } from 'nestjs-pino';
import { pino, type DestinationStream, type LogFn, type Logger, type LoggerOptions } from 'pino';

const REQUEST_ID_HEADER = 'x-request-id';
const SAFE_REQUEST_ID = /^[\w.:-]{1,128}$/;

/**
 * The request id of a request: the caller's `X-Request-Id` when it is a sane token (so a trace
 * can cross a load balancer or another Kiln process), a fresh UUID otherwise. It is echoed in the
 * response so a person reporting an error can quote it.
 */
export function requestId(req: IncomingMessage, res: ServerResponse): string {
  const given = req.headers[REQUEST_ID_HEADER];
  const id = typeof given === 'string' && SAFE_REQUEST_ID.test(given) ? given : randomUUID();
  res.setHeader(REQUEST_ID_HEADER, id);
  return id;
}

/** Probes are polled every few seconds; logging each would drown the lines that matter. */
const QUIET_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Cluster calls (heartbeats, status updates, offers answered) come many times a second: their
 * successes are logged at debug, their failures as usual.
 */
const CHATTY_PATHS = new Set(['/api/v1/agent', '/api/v1/scheduler']);

/**
 * The request headers a log line keeps: what tells requests apart when reading logs (the client,
 * the body's type and size, a forge's event and delivery). An allowlist, not a list of secrets to
 * redact: a credential in a header Kiln has never heard of (a proxy's, a new forge's) stays out of
 * the logs too. It is also cheaper: the request's bindings are made for every request, logged or
 * not, and redacting and serializing all its headers was a tenth of a trivial request's time.
 */
const LOGGED_HEADERS = [
  'user-agent',
  'content-type',
  'content-length',
  'x-forwarded-for',
  'x-github-event',
  'x-github-delivery',
  'x-gitlab-event',
  'x-gitlab-event-uuid',
  'x-gitea-event',
  'x-gitea-delivery',
  'x-forgejo-event',
  'x-forgejo-delivery',
  'x-event-key',
  'x-request-uuid',
];

/** What a log line says of its request: {@link LOGGED_HEADERS} and nothing else of its headers. */
function requestForLog(req: IncomingMessage, id: string): Record<string, unknown> {
  const headers: Record<string, string | string[]> = {};
  for (const name of LOGGED_HEADERS) {
    const value = req.headers[name];
    if (value !== undefined) headers[name] = value;
  }
  return {
    id,
    method: req.method,
    // Express rewrites `url` inside mounted routers; `originalUrl` is what the caller asked for.
    url: (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url,
    remoteAddress: req.socket.remoteAddress,
    headers,
  };
}

function pathOf(req: IncomingMessage): string {
  return (req.url ?? '').split('?')[0] ?? '';
}

/** The level a request's line is logged at, from its path and its answer. */
function levelOf(path: string, statusCode: number): Level {
  if (statusCode >= 500) return 'error';
  if (statusCode >= 400) return 'warn';
  return CHATTY_PATHS.has(path) ? 'debug' : 'info';
}

/** A Kiln process's root logger: JSON lines on stdout (or `destination`), secrets redacted. */
export function rootLogger(app: string, level: string, destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    base: { app },
    // Response headers are Kiln's own: the session cookie is the one secret among them.
    redact: { paths: ['res.headers["set-cookie"]'], censor: '[redacted]' },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}

/**
 * nestjs-pino's options for a Kiln process: its Nest logger writes through {@link rootLogger},
 * and within a request through the logger {@link requestLogging} gave the request.
 */
export function loggerParams(app: string, level: string, destination?: DestinationStream): Params {
  return { pinoHttp: { logger: rootLogger(app, level, destination) }, useExisting: true };
}

/** The logger nestjs-pino's {@link Params} write through (see {@link loggerParams}). */
export function loggerOf(params: Params): Logger {
  const logger = (params.pinoHttp as { logger?: Logger } | undefined)?.logger;
  if (logger === undefined) throw new Error('the logger parameters name no logger');
  return logger;
}

type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/**
 * A request's logger: lines carry the request's id (`reqId`, not the whole request again). Its
 * child of the root is made when the first line is written, not for every request: at the levels
 * Kiln runs at, most requests write none, and making a child serializes its bindings.
 */
class RequestLogger {
  private bound: Logger | undefined;

  constructor(
    private readonly root: Logger,
    private readonly id: string,
  ) {}

  trace(...args: unknown[]): void {
    this.write('trace', args);
  }
  debug(...args: unknown[]): void {
    this.write('debug', args);
  }
  info(...args: unknown[]): void {
    this.write('info', args);
  }
  warn(...args: unknown[]): void {
    this.write('warn', args);
  }
  error(...args: unknown[]): void {
    this.write('error', args);
  }
  fatal(...args: unknown[]): void {
    this.write('fatal', args);
  }

  isLevelEnabled(level: string): boolean {
    return this.root.isLevelEnabled(level);
  }

  child(bindings: Record<string, unknown>): Logger {
    return this.logger().child(bindings);
  }

  private write(level: Level, args: unknown[]): void {
    if (!this.root.isLevelEnabled(level)) return;
    const logger = this.logger();
    logger[level](...(args as Parameters<LogFn>));
  }

  private logger(): Logger {
    return (this.bound ??= this.root.child({ reqId: this.id }));
  }
}

/**
 * The request logging of a Kiln HTTP process, in pino-http's place and format: each request gets
 * an id ({@link requestId}) and a logger that nestjs-pino hands to every line logged while serving
 * it, and when it is answered one line (`request completed`, `request errored` for a 5xx) with
 * its method, URL, client, {@link LOGGED_HEADERS}, status and time. Successes are logged at info
 * (debug on {@link CHATTY_PATHS}, never on {@link QUIET_PATHS}), client errors at warn. Nothing is
 * made for a line its level leaves out: pino-http made two child loggers per request, the request
 * serialized into one, a tenth of the server's time under a burst of webhooks.
 */
export function requestLogging(
  root: Logger,
): (req: IncomingMessage, res: ServerResponse, next: () => void) => void {
  return (req, res, next) => {
    const id = requestId(req, res);
    Object.assign(req, { id, log: new RequestLogger(root, id) });
    const path = pathOf(req);
    if (!QUIET_PATHS.has(path)) {
      const started = Date.now();
      // Always emitted, once: after the answer is sent, or when the client went away first.
      res.once('close', () => {
        const level = levelOf(path, res.statusCode);
        if (!root.isLevelEnabled(level)) return;
        root[level](
          {
            reqId: id,
            req: requestForLog(req, id),
            res: { statusCode: res.statusCode, headers: res.getHeaders() },
            responseTime: Date.now() - started,
          },
          level === 'error' ? 'request errored' : 'request completed',
        );
      });
    }
    next();
  };
}
