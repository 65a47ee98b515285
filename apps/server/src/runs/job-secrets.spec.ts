import { strict } from '@kiln/common/testing';
import { RepositorySecretsRepository, type Run } from '@kiln/persistence';
import { beforeEach, describe, expect, it } from 'vitest';
import { SecretBox } from '../secrets/secret-box';
import { JobSecrets } from './job-secrets';

describe(JobSecrets.name, () => {
  const box = new SecretBox(Buffer.alloc(32, 1));
  const run = { id: 'run-1', repositoryId: 'repo-1', fromFork: false } as Run;
  let sealed: Map<string, { sealedValue: string; environments?: string[] }>;
  let jobSecrets: JobSecrets;

  beforeEach(() => {
    sealed = new Map();
    const secrets = {
      sealedValues: (repositoryId: string, names: readonly string[]) =>
        Promise.resolve(
          new Map(
            [...sealed].filter(([name]) => repositoryId === 'repo-1' && names.includes(name)),
          ),
        ),
    };
    jobSecrets = new JobSecrets(
      strict<RepositorySecretsRepository>('RepositorySecretsRepository', secrets),
      box,
    );
  });

  it('opens the secrets a job names for a run from the repository itself', async () => {
    sealed.set('TOKEN', { sealedValue: box.seal('s3cret') });
    sealed.set('OTHER', { sealedValue: box.seal('unused') });

    expect(await jobSecrets.of(run, ['TOKEN'])).toEqual({ TOKEN: 's3cret' });
  });

  it('opens a secret limited to environments only for a deployment to one of them', async () => {
    sealed.set('DEPLOY_TOKEN', { sealedValue: box.seal('prod'), environments: ['production'] });

    expect(await jobSecrets.of(run, ['DEPLOY_TOKEN'])).toEqual({});
    expect(await jobSecrets.of({ ...run, environment: 'staging' }, ['DEPLOY_TOKEN'])).toEqual({});
    expect(await jobSecrets.of({ ...run, environment: 'production' }, ['DEPLOY_TOKEN'])).toEqual({
      DEPLOY_TOKEN: 'prod',
    });
  });

  it("withholds every secret from a fork's run", async () => {
    sealed.set('TOKEN', { sealedValue: box.seal('s3cret') });

    expect(await jobSecrets.of({ ...run, fromFork: true }, ['TOKEN'])).toEqual({});
  });
});
