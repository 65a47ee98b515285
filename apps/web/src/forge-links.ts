import type { Forge } from './api';

/** Where a repository, a commit and a branch are on the forge's own web pages. */
export interface ForgeLinks {
  repository: string;
  commit: (sha: string) => string;
  branch: (name: string) => string;
  tag: (name: string) => string;
}

/** Each forge's name as people write it. */
export const FORGE_NAMES: Record<Forge, string> = {
  github: 'GitHub',
  gitlab: 'GitLab',
  gitea: 'Gitea',
  forgejo: 'Forgejo',
  bitbucket: 'Bitbucket',
};

/** How each forge spells a commit, a branch and a tag page under the repository's web URL. */
const SHAPES: Record<Forge, { commit: string; branch: string; tag: string }> = {
  github: { commit: 'commit', branch: 'tree', tag: 'releases/tag' },
  gitlab: { commit: '-/commit', branch: '-/tree', tag: '-/tags' },
  gitea: { commit: 'commit', branch: 'src/branch', tag: 'src/tag' },
  forgejo: { commit: 'commit', branch: 'src/branch', tag: 'src/tag' },
  bitbucket: { commit: 'commits', branch: 'src', tag: 'src' },
};

/**
 * The repository's web address from its clone URL: `https://host/owner/name` for an HTTP(S)
 * URL, `git@host:owner/name.git` or `ssh://git@host:22/owner/name.git` alike (forges serve their
 * pages over HTTPS on the host the SSH URL names), without user, port of SSH or `.git`.
 * Undefined when the clone URL is none of those (a local path, say).
 */
export function repositoryWebUrl(cloneUrl: string): string | undefined {
  const scp = /^(?:[^@/\s]+@)?([^:/\s]+):(?!\/)(.+)$/.exec(cloneUrl);
  let host: string;
  let path: string;
  let scheme = 'https:';
  if (scp !== null && !/^[a-z][a-z0-9+.-]*:\/\//i.test(cloneUrl)) {
    host = scp[1] ?? '';
    path = scp[2] ?? '';
  } else {
    let url: URL;
    try {
      url = new URL(cloneUrl);
    } catch {
      return undefined;
    }
    if (url.protocol === 'http:' || url.protocol === 'https:') {
      scheme = url.protocol;
      host = url.host;
    } else if (url.protocol === 'ssh:' || url.protocol === 'git+ssh:') {
      host = url.hostname;
    } else {
      return undefined;
    }
    path = url.pathname;
  }
  const trimmed = path
    .replace(/^\/+/, '')
    .replace(/\/+$/, '')
    .replace(/\.git$/, '');
  if (host === '' || trimmed === '') return undefined;
  return `${scheme}//${host}/${trimmed}`;
}

/** Links into the forge for a repository, or undefined when its web address is unknown. */
export function forgeLinks(repository: { forge: Forge; cloneUrl: string }): ForgeLinks | undefined {
  const base = repositoryWebUrl(repository.cloneUrl);
  if (base === undefined) return undefined;
  const shape = SHAPES[repository.forge];
  // A branch name keeps its slashes (release/1.2 is two path segments on every forge).
  const ref = (name: string): string => name.split('/').map(encodeURIComponent).join('/');
  return {
    repository: base,
    commit: (sha) => `${base}/${shape.commit}/${encodeURIComponent(sha)}`,
    branch: (name) => `${base}/${shape.branch}/${ref(name)}`,
    tag: (name) => `${base}/${shape.tag}/${ref(name)}`,
  };
}
