import type { Forge } from '@kiln/persistence';
import type { GitAuth } from './git-mirror';

/** Git's basic-auth user name for an access token, per forge (the token is the password). */
const TOKEN_USERS: Record<Forge, string> = {
  github: 'x-access-token',
  gitlab: 'oauth2',
  gitea: 'kiln',
  forgejo: 'kiln',
  bitbucket: 'x-token-auth',
};

/**
 * A forge token as git credentials, for the server's mirror and the agents' checkouts alike;
 * only for http(s) clone URLs (ssh and git:// authenticate otherwise, or not at all).
 */
export function forgeGitCredentials(
  forge: Forge,
  cloneUrl: string,
  token: string | undefined,
): GitAuth | undefined {
  if (token === undefined || !/^https?:/.test(cloneUrl)) return undefined;
  return { username: TOKEN_USERS[forge], password: token };
}
