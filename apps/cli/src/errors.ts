/**
 * The exit codes scripts can rely on; `kiln --help` lists them too.
 *
 * - 0: done (for `run watch`: the run succeeded; for `promote --wait`: deployed)
 * - 1: the run did not succeed (failure, error or canceled), or the promotion did not deploy
 *   (failed, rejected, expired or canceled)
 * - 2: usage error: unknown command or option, bad argument
 * - 3: API or network error: the server refused the call or could not be reached
 * - 4: not found or not authorized (HTTP 401, 403, 404)
 */
export const ExitCode = {
  Ok: 0,
  RunFailed: 1,
  Usage: 2,
  Api: 3,
  NotFound: 4,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** A call the API answered with an error, or that got no answer (`status` undefined). */
export class ApiError extends Error {
  override readonly name = 'ApiError';

  constructor(
    message: string,
    /** The HTTP status; undefined when the server could not be reached or answered garbage. */
    readonly status: number | undefined,
  ) {
    super(message);
  }

  /** True for what a retry may cure: no answer, or the server (or a proxy) is unavailable. */
  get transient(): boolean {
    return this.status === undefined || this.status === 502 || this.status === 503;
  }
}

/** The command line itself is wrong: exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Something named on the command line does not exist (a repository by name): exit 4. */
export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
}

/** Ends the command with `code` after it has printed what it had to say (a failed run: 1). */
export class ExitWith extends Error {
  override readonly name = 'ExitWith';

  constructor(readonly code: ExitCode) {
    super(`exit ${code}`);
  }
}

export function exitCodeOf(error: unknown): ExitCode {
  if (error instanceof ExitWith) return error.code;
  if (error instanceof UsageError) return ExitCode.Usage;
  if (error instanceof NotFoundError) return ExitCode.NotFound;
  if (error instanceof ApiError) {
    return error.status === 401 || error.status === 403 || error.status === 404
      ? ExitCode.NotFound
      : ExitCode.Api;
  }
  return ExitCode.Api;
}
