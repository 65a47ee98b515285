import type { PullRequestEvent, PushEvent, TriggerEvent } from './types';
import { WebhookError } from './webhook-error';

/**
 * What Kiln keeps of a delivery. A forge sends up to 25 MB, all of it chosen by whoever pushes:
 * what is stored with a run (and served in every run list) is bounded here, once for every forge.
 */
export const WEBHOOK_LIMITS = {
  /** Forges send UUIDs (36 characters; Bitbucket's `{…}` 38): anything this long is not one. */
  deliveryIdLength: 200,
  /**
   * Git stores a ref as a file, so each `/`-separated part is bounded by the file system's 255
   * bytes; 1024 bytes in all is more than any forge allows (GitHub: 255 per branch name).
   */
  refBytes: 1024,
  refComponentBytes: 255,
  /** Longer commit messages and pull request titles are stored cut, saying so. */
  commitMessageBytes: 64 * 1024,
  authorLength: 256,
  /** More changed paths than this count as unknown, so `when.path` filters let the run through. */
  changedFiles: 5000,
} as const;

const encoder = new TextEncoder();

const byteLength = (text: string): number => encoder.encode(text).length;

/** `text` cut to at most `maxBytes` of UTF-8, never inside a character, with a note when cut. */
export function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = byteLength(text);
  if (bytes <= maxBytes) return text;
  const note = `\n\n[cut by Kiln: ${bytes} bytes, of which the first ${maxBytes} are kept]`;
  const room = new Uint8Array(Math.max(0, maxBytes - byteLength(note)));
  // encodeInto stops before a character that does not fit whole: `read` is where to cut.
  const { read } = encoder.encodeInto(text, room);
  return `${text.slice(0, read)}${note}`;
}

/** Refuses a ref git would not store; the delivery is malformed rather than cut. */
export function checkRef(ref: string, what: string): void {
  const problem = refFormatProblem(ref);
  if (problem !== undefined) {
    // Quoted short: the ref can be as long as the body.
    throw new WebhookError(422, `${what} ${JSON.stringify(ref.slice(0, 120))} ${problem}`);
  }
  if (byteLength(ref) > WEBHOOK_LIMITS.refBytes) {
    throw new WebhookError(422, `${what} is longer than ${WEBHOOK_LIMITS.refBytes} bytes`);
  }
  if (ref.split('/').some((part) => byteLength(part) > WEBHOOK_LIMITS.refComponentBytes)) {
    throw new WebhookError(
      422,
      `${what} has a part longer than ${WEBHOOK_LIMITS.refComponentBytes} bytes`,
    );
  }
}

/** Half of a UTF-16 pair on its own: no character, and stored as U+FFFD, another ref. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** What makes `ref` no ref git would store (`git check-ref-format`'s rules), if anything. */
function refFormatProblem(ref: string): string | undefined {
  if (LONE_SURROGATE.test(ref)) return 'is not valid Unicode';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0020\u007f~^:?*[\\]/.test(ref)) {
    return 'has a control character, a space or one of ~ ^ : ? * [ \\';
  }
  if (ref.includes('..') || ref.includes('@{') || ref === '@') return 'has "..", "@{", or is "@"';
  if (ref.startsWith('/') || ref.endsWith('/') || ref.includes('//') || ref.endsWith('.')) {
    return 'begins or ends with "/", has "//" or ends with "."';
  }
  if (ref.split('/').some((part) => part.startsWith('.') || part.endsWith('.lock'))) {
    return 'has a part that begins with "." or ends with ".lock"';
  }
  return undefined;
}

/** A commit id in lowercase hex, whole or abbreviated (Bitbucket's pull requests name 12 digits). */
const COMMIT_ID = /^[0-9a-f]{7,64}$/;

/** Refuses a commit id that is no hex id of a commit. */
function checkCommit(sha: string, what: string): void {
  if (!COMMIT_ID.test(sha)) {
    throw new WebhookError(422, `${what} ${JSON.stringify(sha.slice(0, 80))} is no commit id`);
  }
}

/** The event as Kiln stores it: refs checked, free text cut to {@link WEBHOOK_LIMITS}. */
export function bounded(event: TriggerEvent): TriggerEvent {
  switch (event.kind) {
    case 'push':
      return boundedPush(event);
    case 'pull_request':
      return boundedPullRequest(event);
    case 'ping':
    case 'ignored':
      return event;
  }
}

function boundedPush(event: PushEvent): PushEvent {
  checkRef(event.ref, 'the ref');
  checkCommit(event.after, 'the pushed commit');
  return {
    ...event,
    ...(event.commitMessage === undefined
      ? {}
      : { commitMessage: truncateUtf8(event.commitMessage, WEBHOOK_LIMITS.commitMessageBytes) }),
    ...(event.author === undefined
      ? {}
      : { author: event.author.slice(0, WEBHOOK_LIMITS.authorLength) }),
    changedFiles: event.changedFiles.length > WEBHOOK_LIMITS.changedFiles ? [] : event.changedFiles,
  };
}

function boundedPullRequest(event: PullRequestEvent): PullRequestEvent {
  checkRef(event.headBranch, 'the head branch');
  checkRef(event.baseBranch, 'the base branch');
  checkCommit(event.headSha, 'the head commit');
  if (!Number.isSafeInteger(event.number) || event.number < 1) {
    throw new WebhookError(422, `the pull request number ${event.number} is no positive integer`);
  }
  return {
    ...event,
    title: truncateUtf8(event.title, WEBHOOK_LIMITS.commitMessageBytes),
    ...(event.author === undefined
      ? {}
      : { author: event.author.slice(0, WEBHOOK_LIMITS.authorLength) }),
  };
}
