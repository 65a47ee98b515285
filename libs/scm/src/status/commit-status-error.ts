/**
 * A commit status the forge did not record. `retryable` says whether the same request may succeed
 * later (network failure, 5xx, rate limit) or will keep failing until something changes (bad
 * token, unknown repository, invalid input); `status` is the forge's HTTP status when it answered.
 */
export class CommitStatusError extends Error {
  readonly status?: number;
  readonly retryable: boolean;

  constructor(message: string, options: { retryable: boolean; status?: number; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CommitStatusError';
    this.retryable = options.retryable;
    if (options.status !== undefined) this.status = options.status;
  }
}
