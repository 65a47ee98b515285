import { ArtifactNameError, ARTIFACT_MAX_BYTES, normalizeArtifactName } from '@kiln/contracts';
import type { Dirent } from 'node:fs';
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import picomatch from 'picomatch';

/** A sandbox file to upload: its artifact name and the real path of its bytes. */
export interface ArtifactFile {
  name: string;
  path: string;
  size: number;
}

/** A match that is not uploaded, and why (written into the job's log). */
export interface RefusedArtifact {
  name: string;
  reason: string;
}

/**
 * The files of `sandbox` that match `patterns` (globs relative to it, dot files included,
 * symbolic links never followed while walking), split into those to upload and those refused:
 * a name that is not a valid artifact name, a pattern reaching outside the sandbox, a symbolic
 * link whose target is outside the sandbox (or missing, or not a file), a file too large.
 * Run after the task's container has ended, so nothing changes the sandbox meanwhile.
 */
export async function collectArtifacts(
  sandbox: string,
  patterns: readonly string[],
  maxBytes = ARTIFACT_MAX_BYTES,
): Promise<{ files: ArtifactFile[]; refused: RefusedArtifact[] }> {
  const root = await realpath(sandbox);
  const files: ArtifactFile[] = [];
  const refused: RefusedArtifact[] = [];
  const wanted: string[] = [];
  for (const pattern of patterns) {
    // The compiler refuses these already; an agent does not trust what it is sent.
    if (isAbsolute(pattern) || pattern.split(/[\\/]/).includes('..')) {
      refused.push({ name: pattern, reason: 'the pattern reaches outside the workspace' });
    } else {
      wanted.push(pattern);
    }
  }
  const matches = wanted.length === 0 ? [] : await match(root, wanted);
  for (const match of matches) {
    let name: string;
    try {
      name = normalizeArtifactName(match);
    } catch (error) {
      if (!(error instanceof ArtifactNameError)) throw error;
      refused.push({ name: match, reason: error.problem });
      continue;
    }
    const path = join(root, ...name.split('/'));
    const found = await inspect(root, path);
    if (typeof found === 'string') {
      refused.push({ name, reason: found });
    } else if (found.size > maxBytes) {
      refused.push({ name, reason: `it is larger than ${maxBytes} bytes (${found.size})` });
    } else {
      files.push({ name, path: found.path, size: found.size });
    }
  }
  return { files, refused };
}

/**
 * The paths (relative, `/`-separated, sorted) of the files and symbolic links under `root` that
 * match `patterns`. Glob libraries that do not follow links leave links out altogether; a link
 * must be seen to be refused, so the walk is this one: from each pattern's static base, into
 * real directories only.
 */
async function match(root: string, patterns: string[]): Promise<string[]> {
  const isMatch = picomatch(patterns, { dot: true });
  const found = new Set<string>();
  const walk = async (dir: string): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(join(root, dir), { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const path = dir === '' ? entry.name : `${dir}/${entry.name}`;
      if (entry.isDirectory()) await walk(path);
      else if ((entry.isFile() || entry.isSymbolicLink()) && isMatch(path)) found.add(path);
    }
  };
  const bases = [...new Set(patterns.map((p) => picomatch.scan(p).base))].sort();
  // A base under another base is walked with it.
  const roots = bases.filter(
    (b, i) => !bases.slice(0, i).some((a) => a === '' || b.startsWith(`${a}/`)),
  );
  for (const base of roots) {
    if (base === '') {
      await walk('');
      continue;
    }
    const info = await lstat(join(root, base)).catch(() => undefined);
    if (info?.isDirectory() === true) await walk(base);
    else if (info !== undefined && isMatch(base)) found.add(base);
  }
  return [...found].sort();
}

/** The real path and size of a regular file inside `root`, or why it is not one. */
async function inspect(
  root: string,
  path: string,
): Promise<{ path: string; size: number } | string> {
  let real: string;
  try {
    real = await realpath(path);
  } catch {
    return (await lstat(path)).isSymbolicLink()
      ? 'it is a symbolic link to nothing'
      : 'it cannot be read';
  }
  const within = relative(root, real);
  if (within === '' || within.startsWith(`..${sep}`) || within === '..' || isAbsolute(within)) {
    return `it is a symbolic link to ${real}, outside the workspace`;
  }
  const info = await stat(real);
  if (!info.isFile()) return 'it is not a regular file';
  return { path: real, size: info.size };
}
