import { describe, expect, it } from 'vitest';
import { forgeLinks, repositoryWebUrl } from './forge-links';

const SHA = '0123456789abcdef0123456789abcdef01234567';

describe(repositoryWebUrl.name, () => {
  it.each([
    ['https://github.com/acme/shop.git', 'https://github.com/acme/shop'],
    ['https://github.com/acme/shop', 'https://github.com/acme/shop'],
    ['git@github.com:acme/shop.git', 'https://github.com/acme/shop'],
    [
      'ssh://git@gitlab.example.com:2222/group/sub/shop.git',
      'https://gitlab.example.com/group/sub/shop',
    ],
    ['https://emma@bitbucket.org/acme/shop.git', 'https://bitbucket.org/acme/shop'],
    ['http://gitea.local:3000/acme/shop.git', 'http://gitea.local:3000/acme/shop'],
  ])('reads %s as %s', (cloneUrl, web) => {
    expect(repositoryWebUrl(cloneUrl)).toBe(web);
  });

  it.each(['/srv/git/shop.git', 'file:///srv/git/shop.git', 'not a url'])(
    'has no web address for %s',
    (cloneUrl) => {
      expect(repositoryWebUrl(cloneUrl)).toBeUndefined();
    },
  );
});

describe(forgeLinks.name, () => {
  it.each([
    [
      'github',
      'https://github.com/acme/shop.git',
      `https://github.com/acme/shop/commit/${SHA}`,
      'https://github.com/acme/shop/tree/release/1.2',
    ],
    [
      'gitlab',
      'git@gitlab.com:acme/shop.git',
      `https://gitlab.com/acme/shop/-/commit/${SHA}`,
      'https://gitlab.com/acme/shop/-/tree/release/1.2',
    ],
    [
      'gitea',
      'https://gitea.example.com/acme/shop.git',
      `https://gitea.example.com/acme/shop/commit/${SHA}`,
      'https://gitea.example.com/acme/shop/src/branch/release/1.2',
    ],
    [
      'bitbucket',
      'https://emma@bitbucket.org/acme/shop.git',
      `https://bitbucket.org/acme/shop/commits/${SHA}`,
      'https://bitbucket.org/acme/shop/src/release/1.2',
    ],
  ] as const)(
    'links a %s commit and branch in its own URL shapes',
    (forge, cloneUrl, commit, branch) => {
      const links = forgeLinks({ forge, cloneUrl });
      expect(links?.commit(SHA)).toBe(commit);
      expect(links?.branch('release/1.2')).toBe(branch);
    },
  );

  it('escapes what a branch name may hold but a URL path may not', () => {
    const links = forgeLinks({ forge: 'github', cloneUrl: 'https://github.com/acme/shop.git' });
    expect(links?.branch('feature/a#b c')).toBe(
      'https://github.com/acme/shop/tree/feature/a%23b%20c',
    );
  });

  it('offers no links for a repository cloned from a local path', () => {
    expect(forgeLinks({ forge: 'gitea', cloneUrl: '/srv/git/shop.git' })).toBeUndefined();
  });
});
