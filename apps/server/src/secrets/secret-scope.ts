import type { SealedSecret } from '@kiln/persistence';

/**
 * Whether a run deploying to `environment` (undefined: a build, not a deployment) may have
 * `secret`: one limited to environments only in deployments to one of them, so a production
 * credential is reached through the production policy and its approvals, never by a push.
 */
export function secretAvailable(
  secret: Pick<SealedSecret, 'environments'>,
  environment: string | undefined,
): boolean {
  return (
    secret.environments === undefined ||
    (environment !== undefined && secret.environments.includes(environment))
  );
}
