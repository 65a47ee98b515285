import { once } from 'node:events';
import type { ServerResponse } from 'node:http';

/** Settles once the response's client is gone, or has been: what stops a git program feeding it. */
export function clientGone(response: ServerResponse): Promise<void> {
  return new Promise<void>((resolve) => {
    if (response.destroyed) resolve();
    response.once('close', () => resolve());
  });
}

/** Until the response can take more, or its client is gone (then no drain ever comes). */
export async function untilDrained(response: ServerResponse, gone: Promise<void>): Promise<void> {
  await Promise.race([once(response, 'drain').catch(() => undefined), gone]);
}
