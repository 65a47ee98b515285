import { chmod, mkdir, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';

/** Kiln's own directory under `/run`: every native containerizer's runtime directory is in it. */
export const RUNTIME_BASE = '/run/kiln';

/** The runtime directory a native containerizer keeps by default for its cgroup `parent`. */
export function defaultRuntimeDir(parent: string): string {
  return join(RUNTIME_BASE, 'cgroup', parent.replaceAll('/', '+'));
}

/** Searchable by all, listable by none: the containers' root walks it, nobody can look inside. */
const SEARCH_ONLY = 0o711;

/**
 * Makes `dir` a runtime directory whose root filesystem a container's root (an unprivileged host
 * uid) can reach: `dir` and every level of it from `base` down get mode 0711, whatever mode an
 * earlier agent, a tool or a restrictive umask left them with (mkdir changes neither an existing
 * level nor the umask's narrowing of a new one, and one 0700 level makes runc's rootfs mount fail
 * with "permission denied"). Levels above `base` are the host's: they are checked, never changed.
 */
export async function makeRuntimeDir(dir: string, base: string = RUNTIME_BASE): Promise<void> {
  const target = resolve(dir);
  await mkdir(target, { recursive: true, mode: SEARCH_ONLY });
  const owned = new Set(levelsFrom(resolve(base), target));
  owned.add(target);
  for (const level of owned) await chmod(level, SEARCH_ONLY);
  for (let level = dirname(target); ; level = dirname(level)) {
    if (!owned.has(level) && ((await stat(level)).mode & 0o001) === 0) {
      throw new Error(
        `the runtime directory ${target} cannot be reached by containers: ${level} is not ` +
          'searchable by other users (it needs the x bit for others, e.g. mode 0711)',
      );
    }
    if (level === dirname(level)) return;
  }
}

/** `base` and each directory between it and `dir`, when `dir` is inside `base`; else none. */
function levelsFrom(base: string, dir: string): string[] {
  const rel = relative(base, dir);
  if (rel === '' || rel.startsWith('..') || rel.startsWith(sep)) return rel === '' ? [base] : [];
  const levels = [base];
  for (const part of rel.split(sep)) levels.push(resolve(levels[levels.length - 1] ?? base, part));
  return levels;
}
