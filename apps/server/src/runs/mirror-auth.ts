import type { Repository } from '@kiln/persistence';
import type { GitAuth } from '../git/git-mirror';
import type { SecretBox } from '../secrets/secret-box';

/** The forge token as git credentials for an http(s) clone URL, if the repository has one. */
export function mirrorAuth(repository: Repository, box: SecretBox): GitAuth | undefined {
  if (repository.sealedForgeToken === undefined || !/^https?:/.test(repository.cloneUrl)) {
    return undefined;
  }
  return { username: 'kiln', password: box.open(repository.sealedForgeToken) };
}
