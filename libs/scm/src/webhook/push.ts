import { optArray, optString } from './json';
import type { PushEvent } from './types';

/** What git and every forge use for "no commit": the old side of a create, the new side of a delete. */
export const ZERO_SHA = /^0+$/;

// Same markers GitHub Actions and GitLab CI honour, so a developer's habit carries over to Kiln.
const SKIP_CI = /\[(skip ci|ci skip)\]/i;

export function wantsSkipCi(message: string | undefined): boolean {
  return message !== undefined && SKIP_CI.test(message);
}

/** Branch or tag name of a full ref; a bare name (Bitbucket) is taken as-is by the caller. */
export function splitRef(ref: string): Pick<PushEvent, 'branch' | 'tag'> {
  if (ref.startsWith('refs/heads/')) return { branch: ref.slice('refs/heads/'.length) };
  if (ref.startsWith('refs/tags/')) return { tag: ref.slice('refs/tags/'.length) };
  return {};
}

/** Sorted union of added/modified/removed over commits shaped like GitHub's, GitLab's and Gitea's. */
export function changedFiles(commits: unknown[]): string[] {
  const files = new Set<string>();
  for (const commit of commits) {
    for (const key of ['added', 'modified', 'removed']) {
      for (const file of optArray(commit, key)) {
        if (typeof file === 'string') files.add(file);
      }
    }
  }
  return [...files].sort();
}

/** The commit whose id is `sha`, else the last one (GitHub, GitLab and Gitea list oldest first). */
export function headCommit(commits: unknown[], sha: string): unknown {
  return commits.find((c) => optString(c, 'id') === sha) ?? commits[commits.length - 1];
}
