/**
 * A webhook the receiver must refuse, carrying the HTTP status to answer with:
 * 401 bad or missing signature, 400 malformed request (bad JSON, missing headers), 415 a body
 * that is not JSON, 422 well-formed and authentic but of a shape Kiln does not understand.
 */
export class WebhookError extends Error {
  constructor(
    readonly status: 400 | 401 | 415 | 422,
    message: string,
  ) {
    super(message);
    this.name = 'WebhookError';
  }
}
