import {
  ArtifactNameError,
  ARTIFACT_MAX_BYTES,
  ARTIFACTS_MAX_FILES,
  ARTIFACTS_MAX_TOTAL_BYTES,
  normalizeArtifactName,
} from '@kiln/contracts';
import { Glob, GlobBudgetSpent, type GlobBudget } from '@kiln/pipeline';
import type { Dir } from 'node:fs';
import { lstat, opendir, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import { setImmediate } from 'node:timers/promises';

/** A sandbox file to upload: its artifact name and the real path of its bytes. */
export interface ArtifactFile {
  name: string;
  path: string;
  size: number;
}

/** A match that is not uploaded, and why (written into the job's log). */
export interface RefusedArtifact {
  /** The name, cut when long (the build chose it): {@link quotedName} shows it in a log. */
  name: string;
  reason: string;
}

/** What the build may make the agent do, whatever it leaves in its workspace. */
export interface CollectionLimits {
  /** The largest file. */
  maxBytes: number;
  /** The most files uploaded. */
  maxFiles: number;
  /** The most bytes uploaded, all files together. */
  maxTotalBytes: number;
  /** The most directory entries looked at: a million empty files cost the build nothing. */
  maxEntries: number;
  /** The most refusals kept, each with its reason; the rest are counted. */
  maxRefusals: number;
  /**
   * The most work matching names against the patterns may take, in steps of a glob (see
   * `Glob.matches`): patterns and names both come from the repository, and a hostile pair can
   * cost a million steps a name. About 30 ns each; the default is a few seconds in all.
   */
  maxMatchSteps: number;
}

export const DEFAULT_COLLECTION_LIMITS: CollectionLimits = {
  maxBytes: ARTIFACT_MAX_BYTES,
  maxFiles: ARTIFACTS_MAX_FILES,
  maxTotalBytes: ARTIFACTS_MAX_TOTAL_BYTES,
  maxEntries: 100_000,
  maxRefusals: 100,
  maxMatchSteps: 2 ** 27,
};

/** What was found: the files to upload, the refused ones, and what was left unlooked at. */
export interface Collection {
  files: ArtifactFile[];
  refused: RefusedArtifact[];
  /** Refusals past `maxRefusals`, counted only. */
  moreRefused: number;
  /** Why the search stopped before its end, if it did. */
  stopped?: string;
}

/** A name the build chose, kept no longer than a log line can show. */
function cut(name: string): string {
  return name.length > 200 ? `${name.slice(0, 200)}…` : name;
}

/** A name the build chose, as a log line shows it: quoted, so it cannot pass for another line. */
export function quotedName(name: string): string {
  return JSON.stringify(name);
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
  signal?: AbortSignal,
  limits: CollectionLimits = DEFAULT_COLLECTION_LIMITS,
): Promise<Collection> {
  const root = await realpath(sandbox);
  const collection: Collection = { files: [], refused: [], moreRefused: 0 };
  const refuse = (name: string, reason: string): void => {
    if (collection.refused.length < limits.maxRefusals) {
      collection.refused.push({ name: cut(name), reason });
    } else {
      collection.moreRefused += 1;
    }
  };
  const wanted: string[] = [];
  for (const pattern of patterns) {
    // The compiler refuses these already; an agent does not trust what it is sent.
    if (isAbsolute(pattern) || pattern.split(/[\\/]/).includes('..')) {
      refuse(pattern, 'the pattern reaches outside the workspace');
    } else {
      wanted.push(pattern);
    }
  }
  const found = wanted.length === 0 ? { paths: [] } : await match(root, wanted, limits, signal);
  if (found.stopped !== undefined) collection.stopped = found.stopped;
  let totalBytes = 0;
  for (const match of found.paths) {
    signal?.throwIfAborted();
    let name: string;
    try {
      name = normalizeArtifactName(match);
    } catch (error) {
      if (!(error instanceof ArtifactNameError)) throw error;
      refuse(match, error.problem);
      continue;
    }
    const path = join(root, ...name.split('/'));
    const file = await inspect(root, path);
    if (typeof file === 'string') {
      refuse(name, file);
    } else if (file.size > limits.maxBytes) {
      refuse(name, `it is larger than ${limits.maxBytes} bytes (${file.size})`);
    } else if (totalBytes + file.size > limits.maxTotalBytes) {
      refuse(name, `the task's artifacts would pass ${limits.maxTotalBytes} bytes in all`);
    } else if (collection.files.length >= limits.maxFiles) {
      refuse(
        name,
        `the task has ${limits.maxFiles} artifact files already (archive them into one)`,
      );
    } else {
      totalBytes += file.size;
      collection.files.push({ name, path: file.path, size: file.size });
    }
  }
  return collection;
}

/** Matching work done between two turns of the event loop: tens of milliseconds at most. */
const MATCH_STEPS_PER_TURN = 1_000_000;

/**
 * The paths (relative, `/`-separated, sorted) of the files and symbolic links under `root` that
 * match `patterns` (the pipeline's globs). Glob libraries that do not follow links leave links
 * out altogether; a link must be seen to be refused, so the walk is this one: from each
 * pattern's static base, into real directories only.
 */
async function match(
  root: string,
  patterns: string[],
  limits: CollectionLimits,
  signal: AbortSignal | undefined,
): Promise<{ paths: string[]; stopped?: string }> {
  const globs = patterns.map((pattern) => new Glob(pattern));
  const budget: GlobBudget = { left: limits.maxMatchSteps };
  let turn = budget.left;
  // Other tasks' work goes on between the matches of a long search.
  const isMatch = async (path: string): Promise<boolean> => {
    if (turn - budget.left >= MATCH_STEPS_PER_TURN) {
      await setImmediate();
      turn = budget.left;
    }
    return globs.some((glob) => glob.matches(path, budget));
  };
  const found = new Set<string>();
  // Enough to upload the most files and list the most refusals; a match past them is not kept.
  const maxMatches = limits.maxFiles + limits.maxRefusals;
  let entries = 0;
  let stopped: string | undefined;
  const walk = async (dir: string): Promise<void> => {
    let opened: Dir;
    try {
      // Read as it goes: a directory of a million names is never held whole.
      opened = await opendir(join(root, dir));
    } catch {
      return;
    }
    try {
      for await (const entry of opened) {
        signal?.throwIfAborted();
        if (stopped !== undefined) return;
        entries += 1;
        if (entries > limits.maxEntries) {
          stopped = `the search stopped after ${limits.maxEntries} files and directories`;
          return;
        }
        const path = dir === '' ? entry.name : `${dir}/${entry.name}`;
        if (entry.isDirectory()) {
          await walk(path);
        } else if ((entry.isFile() || entry.isSymbolicLink()) && (await isMatch(path))) {
          found.add(path);
          if (found.size >= maxMatches) stopped = `the search stopped at ${maxMatches} matches`;
        }
      }
    } finally {
      // Left early (stopped, aborted), the directory is still open.
      await opened.close().catch(() => undefined);
    }
  };
  const bases = [...new Set(patterns.map(staticBase))].sort();
  // A base under another base is walked with it.
  const roots = bases.filter(
    (b, i) => !bases.slice(0, i).some((a) => a === '' || b.startsWith(`${a}/`)),
  );
  try {
    for (const base of roots) {
      if (base === '') {
        await walk('');
        continue;
      }
      // A link on the way to where a pattern's matches are, or where a pattern wants a
      // directory, is not walked: the agent would list what it names, a host directory perhaps.
      // Refused, it says what it is.
      const link = await linkOnTheWay(root, base);
      if (link !== undefined) {
        found.add(link);
        continue;
      }
      const info = await lstat(join(root, base)).catch(() => undefined);
      if (info?.isDirectory() === true) await walk(base);
      else if (info !== undefined && (await isMatch(base))) found.add(base);
    }
  } catch (error) {
    if (!(error instanceof GlobBudgetSpent)) throw error;
    stopped =
      `the search stopped: matching names against ${quotedName(cut(error.glob))} took too ` +
      `much work (${limits.maxMatchSteps} steps in all); simpler patterns take less`;
  }
  return { paths: [...found].sort(), ...(stopped === undefined ? {} : { stopped }) };
}

/**
 * The first of `base`'s leading paths (`a`, `a/b`, `a/b/c`) that is a symbolic link, if any:
 * `lstat` of the whole path would follow every link but the last.
 */
async function linkOnTheWay(root: string, base: string): Promise<string | undefined> {
  let path = '';
  for (const segment of base.split('/')) {
    path = path === '' ? segment : `${path}/${segment}`;
    const info = await lstat(join(root, path)).catch(() => undefined);
    if (info === undefined) return undefined;
    if (info.isSymbolicLink()) return path;
  }
  return undefined;
}

/** The segments of `pattern` before its first wildcard: where its matches can be, all of them. */
function staticBase(pattern: string): string {
  const segments = pattern.split('/');
  const wild = segments.findIndex((segment) => /[*?]/.test(segment));
  return (wild === -1 ? segments : segments.slice(0, wild)).join('/');
}

/**
 * Why a link out of the workspace, or to nothing, is refused: the same words for both, and never
 * where it goes. The agent follows it as root on the host, and the job's log would otherwise
 * tell the build what is there, or whether a host path exists at all.
 */
const LINK_OUT = 'it is a symbolic link to no file in the workspace';

/** The real path and size of a regular file inside `root`, or why it is not one. */
async function inspect(
  root: string,
  path: string,
): Promise<{ path: string; size: number } | string> {
  let real: string;
  try {
    real = await realpath(path);
  } catch {
    const info = await lstat(path).catch(() => undefined);
    if (info?.isSymbolicLink() === true) return LINK_OUT;
    // Node lists a name that is not UTF-8 with U+FFFD for its bytes: no file is named so.
    return info === undefined && path.includes('\uFFFD')
      ? 'its name is not UTF-8'
      : 'it cannot be read';
  }
  const within = relative(root, real);
  if (within === '' || within.startsWith(`..${sep}`) || within === '..' || isAbsolute(within)) {
    return LINK_OUT;
  }
  const info = await stat(real);
  if (!info.isFile()) {
    return real === path
      ? 'it is not a regular file'
      : `it is a symbolic link to ${within}, not to a regular file`;
  }
  return { path: real, size: info.size };
}
