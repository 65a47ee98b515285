import { HttpException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * How deep arrays and objects may nest in a JSON body. Kiln's deepest messages (a scheduler
 * ACCEPT, a forge's webhook) nest under a dozen levels; class-transformer and class-validator
 * recurse, so a body nested thousands deep would otherwise end in a stack overflow and a 500.
 */
export const MAX_JSON_DEPTH = 64;

/** The content types the parsers read (body-parser's defaults), parameters allowed. */
const JSON_TYPE = /^application\/json\s*(?:;|$)/i;
const FORM_TYPE = /^application\/x-www-form-urlencoded\s*(?:;|$)/i;

/** The request as the body parsers leave it: its bytes for signatures, or why parsing failed. */
export interface ParsedRequest extends IncomingMessage {
  /** The exact bytes of a body under a raw path (webhook signatures are computed over them). */
  rawBody?: Buffer;
  bodyError?: unknown;
}

/** An error the body parsers answer with as is: a status and a message meant for the caller. */
class BodyError extends Error {
  readonly expose = true;
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Whether `bytes` (JSON, not yet parsed) nests deeper than `limit`. Counts brackets outside
 * strings in one pass, before anything recursive sees the body; a malformed body is left to the
 * JSON parser to report. Strings are skipped by the buffer's own search for their closing quote:
 * they are most of a forge's payload (its URLs), and looking at each of their bytes here took
 * longer than `JSON.parse` of the whole body.
 */
export function nestsDeeperThan(bytes: Uint8Array, limit: number): boolean {
  let depth = 0;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i];
    if (byte === QUOTE) {
      i = closingQuote(bytes, i);
      if (i < 0) return false;
    } else if (byte === 0x7b || byte === 0x5b) {
      depth++;
      if (depth > limit) return true;
    } else if (byte === 0x7d || byte === 0x5d) {
      depth--;
    }
  }
  return false;
}

/**
 * Where the string opened at `open` ends: the next quote that no backslash escapes (one after an
 * even run of backslashes, which escape each other). -1 when the string never ends.
 */
function closingQuote(bytes: Uint8Array, open: number): number {
  let at = open;
  for (;;) {
    at = bytes.indexOf(QUOTE, at + 1);
    if (at < 0) return -1;
    let backslashes = 0;
    while (at - backslashes - 1 > open && bytes[at - backslashes - 1] === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return at;
  }
}

function checkJson(_req: IncomingMessage, _res: ServerResponse, buffer: Buffer): void {
  if (nestsDeeperThan(buffer, MAX_JSON_DEPTH)) {
    throw new BodyError(400, `the JSON body nests deeper than ${MAX_JSON_DEPTH} levels`);
  }
}

/** Keeps a raw path's bytes; a JSON body there is held to the same depth as any other. */
function keepRaw(req: ParsedRequest, res: ServerResponse, buffer: Buffer): void {
  if (JSON_TYPE.test(req.headers['content-type'] ?? '')) checkJson(req, res, buffer);
  req.rawBody = buffer;
}

/**
 * Parses JSON and form bodies of at most `limit` (`'25mb'`). Under `rawPaths` (path prefixes,
 * `/hooks`) such a body is read but not parsed: its exact bytes are in `req.rawBody`, for
 * a handler that verifies a signature over them and parses them itself (a forge's webhook), which
 * spares it a JSON parse nobody reads. A body that fails (malformed, too large, too deep) is not
 * answered by the parser itself but by {@link BodyErrorGuard}, after the request logger has given
 * the request its id: so that answer carries `X-Request-Id` and leaves a log line like any other.
 */
export function useBodyParsing(
  app: NestExpressApplication,
  limit: string,
  rawPaths: readonly string[] = [],
): void {
  if (rawPaths.length > 0) {
    // Registered first: a body read here is finished, and the parsers below pass it by. It reads
    // what they would have: a body of another type is left unread there as anywhere.
    const isRaw = (req: IncomingMessage): boolean => {
      const type = req.headers['content-type'] ?? '';
      return (
        (JSON_TYPE.test(type) || FORM_TYPE.test(type)) &&
        rawPaths.some((path) => isUnder(req, path))
      );
    };
    app.useBodyParser('raw', { type: isRaw, limit, verify: keepRaw });
  }
  app.useBodyParser('json', { limit, verify: checkJson });
  app.useBodyParser('urlencoded', { limit, extended: false });
  app.use((error: unknown, req: ParsedRequest, _res: ServerResponse, next: () => void) => {
    req.bodyError = error;
    next();
  });
  app.useGlobalGuards(new BodyErrorGuard(limit));
}

/**
 * Whether the request's path is `path` or below it, as the router matches paths: without regard to
 * case, and from the path alone when the request line holds a whole URL.
 */
function isUnder(req: IncomingMessage, path: string): boolean {
  let pathname: string;
  try {
    pathname = new URL(req.url ?? '/', 'http://kiln').pathname.toLowerCase();
  } catch {
    return false;
  }
  const prefix = path.toLowerCase();
  return pathname === prefix || pathname.startsWith(`${prefix}/`);
}

/** Answers a request whose body could not be parsed; see {@link useBodyParsing}. */
export class BodyErrorGuard implements CanActivate {
  constructor(private readonly limit: string) {}

  canActivate(context: ExecutionContext): boolean {
    const { bodyError } = context.switchToHttp().getRequest<ParsedRequest>();
    if (bodyError === undefined) return true;
    throw this.answer(bodyError);
  }

  private answer(error: unknown): unknown {
    if (error instanceof BodyError) return new HttpException(error.message, error.status);
    const { type, message } = error as { type?: unknown; message?: unknown };
    switch (type) {
      case 'entity.too.large':
        return new HttpException(`the request body is larger than the limit of ${this.limit}`, 413);
      case 'entity.parse.failed': {
        // The parser takes objects and arrays only: another JSON value is not the JSON it says.
        const { body } = error as { body?: unknown };
        const first = typeof body === 'string' ? body.trimStart()[0] : undefined;
        if (first !== undefined && first !== '{' && first !== '[') {
          return new HttpException('the body must be a JSON object or array', 400);
        }
        return new HttpException(`the body is not valid JSON: ${String(message)}`, 400);
      }
      case 'encoding.unsupported':
      case 'charset.unsupported':
        return new HttpException(String(message), 415);
      default:
        // Anything else (an aborted upload): the error filter knows http-errors' statuses.
        return error;
    }
  }
}
