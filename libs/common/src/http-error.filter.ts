import {
  Catch,
  HttpException,
  HttpStatus,
  Logger,
  type ArgumentsHost,
  type ExceptionFilter,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { randomUUID } from 'node:crypto';

/** The one error body every Kiln HTTP API answers with. */
export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  /** Individual problems, e.g. one per invalid field. */
  details?: string[];
  /** Set on 5xx: the id under which the error was logged. */
  errorId?: string;
}

/**
 * Turns every exception into an {@link ErrorBody}. Client errors keep their message, because it
 * tells the caller what to fix; server errors never leak internals: they get an error id that is
 * logged with the full error, so an operator can find it.
 */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger(HttpErrorFilter.name);

  constructor(private readonly adapterHost: HttpAdapterHost) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const body = this.toBody(exception);
    const { httpAdapter } = this.adapterHost;
    const response: unknown = ctx.getResponse();
    if (isHeadersSent(response)) return;
    httpAdapter.reply(response, body, body.statusCode);
  }

  private toBody(exception: unknown): ErrorBody {
    const status = statusOf(exception);
    if (exception instanceof HttpException && status >= 500) {
      // A 5xx the code chose (503: a dependency is down) keeps its status, so clients and load
      // balancers can tell "try later" from a bug; it is logged like any server error.
      const errorId = randomUUID();
      this.logger.error({ err: exception, errorId }, 'request failed');
      return { ...fromHttpException(exception, status), errorId };
    }
    if (status >= 500 || !(exception instanceof HttpException || isClientError(exception))) {
      const errorId = randomUUID();
      this.logger.error({ err: exception, errorId }, 'request failed with an unexpected error');
      return {
        statusCode: HttpStatus.INTERNAL_SERVER_ERROR,
        error: 'Internal Server Error',
        message: `Internal error; it was logged with id ${errorId}`,
        errorId,
      };
    }
    if (exception instanceof HttpException) return fromHttpException(exception, status);
    // Errors thrown by the HTTP layer itself (a malformed JSON body, a body over the limit) carry
    // their status the http-errors way.
    const message = exception instanceof Error ? exception.message : 'Bad request';
    return { statusCode: status, error: reasonOf(status), message };
  }
}

function fromHttpException(exception: HttpException, status: number): ErrorBody {
  const response = exception.getResponse();
  if (typeof response === 'string') {
    return { statusCode: status, error: reasonOf(status), message: response };
  }
  const { message, error, details } = response as {
    message?: unknown;
    error?: unknown;
    details?: unknown;
  };
  const body: ErrorBody = {
    statusCode: status,
    error: typeof error === 'string' ? error : reasonOf(status),
    message: exception.message,
  };
  if (Array.isArray(message)) {
    body.details = message.map(String);
    body.message = body.details.join('; ');
  } else if (typeof message === 'string') {
    body.message = message;
  }
  if (Array.isArray(details)) body.details = details.map(String);
  return body;
}

function statusOf(exception: unknown): number {
  if (exception instanceof HttpException) return exception.getStatus();
  if (isClientError(exception)) return exception.status;
  return HttpStatus.INTERNAL_SERVER_ERROR;
}

/** http-errors style errors (body-parser) expose a 4xx status and a message safe to show. */
function isClientError(value: unknown): value is Error & { status: number } {
  if (!(value instanceof Error)) return false;
  const { status, expose } = value as { status?: unknown; expose?: unknown };
  return typeof status === 'number' && status >= 400 && status < 500 && expose === true;
}

function reasonOf(status: number): string {
  const name = HttpStatus[status];
  if (typeof name !== 'string') return 'Error';
  return name
    .toLowerCase()
    .split('_')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join(' ');
}

function isHeadersSent(response: unknown): boolean {
  return (
    typeof response === 'object' &&
    response !== null &&
    (response as { headersSent?: unknown }).headersSent === true
  );
}
