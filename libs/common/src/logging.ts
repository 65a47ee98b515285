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
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers.cookie',
          'req.headers["x-gitlab-token"]',
          'req.headers["x-hub-signature"]',
          'req.headers["x-hub-signature-256"]',
          'req.headers["x-gitea-signature"]',
          'req.headers["x-forgejo-signature"]',
          'res.headers["set-cookie"]',
        ],
        censor: '[redacted]',
      },
    },
  };
}
