import type { Repository } from '@kiln/persistence';
import { forgeGitCredentials } from '../git/forge-credentials';
import type { GitAuth } from '../git/git-mirror';
import type { SecretBox } from '../secrets/secret-box';

/** The repository's forge token as git credentials for its mirror, if it has one. */
export function mirrorAuth(repository: Repository, box: SecretBox): GitAuth | undefined {
  const token = repository.sealedForgeToken;
  return forgeGitCredentials(
    repository.forge,
    repository.cloneUrl,
    token === undefined ? undefined : box.open(token),
  );
}
