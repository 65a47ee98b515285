import { RepositorySecretsRepository, type Run } from '@kiln/persistence';
import { Injectable } from '@nestjs/common';
import { SecretBox } from '../secrets/secret-box';
import { secretAvailable } from '../secrets/secret-scope';

/**
 * The secrets a job of a run gets, in the clear: what its task's environment holds, and what its
 * log masks. One definition for both, so a log never masks less than its task was given.
 */
@Injectable()
export class JobSecrets {
  constructor(
    private readonly secrets: RepositorySecretsRepository,
    private readonly box: SecretBox,
  ) {}

  /**
   * The secrets `names` of the run's repository: none at all for a fork's pull request (untrusted
   * code), and of those limited to environments only what a deployment to one of them may have.
   */
  async of(run: Run, names: readonly string[]): Promise<Record<string, string>> {
    if (run.fromFork || names.length === 0) return {};
    const sealed = await this.secrets.sealedValues(run.repositoryId, names);
    return Object.fromEntries(
      [...sealed]
        .filter(([, secret]) => secretAvailable(secret, run.environment))
        .map(([name, secret]) => [name, this.box.open(secret.sealedValue)]),
    );
  }
}
