const cache = new Map<string, RegExp>();

/**
 * A minimal glob for branch names and file paths: `*` and `?` stay within one `/`-separated
 * segment, `**` crosses segments, and `**\/` also matches no segment at all (`src/**\/*.ts` matches
 * `src/a.ts`). Node 20 has no `path.matchesGlob`, and a dependency for this is not worth it.
 */
export function globToRegExp(glob: string): RegExp {
  const cached = cache.get(glob);
  if (cached !== undefined) return cached;
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i] as string;
    if (char === '*' && glob[i + 1] === '*') {
      if (glob[i + 2] === '/') {
        source += '(?:.*/)?';
        i += 2;
      } else {
        source += '.*';
        i += 1;
      }
    } else if (char === '*') {
      source += '[^/]*';
    } else if (char === '?') {
      source += '[^/]';
    } else {
      source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
  }
  const regExp = new RegExp(`^${source}$`);
  cache.set(glob, regExp);
  return regExp;
}

export function matchesGlob(value: string, glob: string): boolean {
  return globToRegExp(glob).test(value);
}
