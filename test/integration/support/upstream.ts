import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { git } from '../../e2e/support/git';

/** What a path of the commit holds: text, or a symbolic link to `link`. */
export type UpstreamFile = string | { link: string };

export interface Upstream {
  /** The URL to clone it by (file://). */
  url: string;
  /** The commit on main. */
  sha: string;
}

/**
 * A git repository made at `dir` with one commit on main holding `files` (a `.kiln.yml`, say),
 * for a server to register or an agent to check out.
 */
export function createUpstream(
  dir: string,
  files: Record<string, UpstreamFile>,
  message = 'one',
): Upstream {
  mkdirSync(dir, { recursive: true });
  git(dir, 'init', '--quiet', '--initial-branch=main');
  for (const [path, file] of Object.entries(files)) {
    if (typeof file === 'string') writeFileSync(join(dir, path), file);
    else symlinkSync(file.link, join(dir, path));
  }
  git(dir, 'add', '-A');
  git(dir, 'commit', '--quiet', '-m', message);
  return { url: `file://${dir}`, sha: git(dir, 'rev-parse', 'HEAD') };
}
