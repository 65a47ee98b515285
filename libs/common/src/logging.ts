import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Params } from 'nestjs-pino';

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

/** A request as pino-http's standard serializer hands it on (the fields read here). */
interface SerializedRequest {
  id: unknown;
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  remoteAddress?: string;
}

/** What a log line says of its request: {@link LOGGED_HEADERS} and nothing else of its headers. */
function requestForLog(req: SerializedRequest): Record<string, unknown> {
  const headers: Record<string, string | string[]> = {};
  for (const name of LOGGED_HEADERS) {
    const value = req.headers[name];
    if (value !== undefined) headers[name] = value;
  }
  return {
    id: req.id,
    method: req.method,
    url: req.url,
    remoteAddress: req.remoteAddress,
    headers,
  };
}

function pathOf(req: IncomingMessage): string {
  return (req.url ?? '').split('?')[0] ?? '';
}

/** nestjs-pino options shared by every Kiln process: JSON lines on stdout, secrets redacted. */
export function loggerParams(app: string, level: string): Params {
  return {
    pinoHttp: {
      level,
      base: { app },
      // Lines logged while serving a request carry its id, not the whole request again.
      quietReqLogger: true,
      genReqId: requestId,
      autoLogging: { ignore: (req) => QUIET_PATHS.has(pathOf(req)) },
      customLogLevel: (req, res, error) => {
        if (error !== undefined || res.statusCode >= 500) return 'error';
        if (res.statusCode >= 400) return 'warn';
        return CHATTY_PATHS.has(pathOf(req)) ? 'debug' : 'info';
      },
      serializers: { req: requestForLog },
      // Response headers are Kiln's own: the session cookie is the one secret among them.
      redact: { paths: ['res.headers["set-cookie"]'], censor: '[redacted]' },
    },
  };
}
