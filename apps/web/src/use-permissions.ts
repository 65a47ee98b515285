import { useEffect, useState } from 'react';
import { usePoll } from './use-poll';
import { api, type RepositoryRole, type User } from './api';

/** Which actions to offer the user in a repository; it only hides buttons, the server decides. */
export interface Permissions {
  /** Cancel and rerun runs: developer or more. */
  write: boolean;
  /** Promote runs, approve, reject and cancel promotions: release manager or admin. */
  release: boolean;
}

export function usePermissions(user: User, repositoryId: string | undefined): Permissions {
  const [role, setRole] = useState<RepositoryRole>();
  useEffect(() => {
    if (user.isAdmin || repositoryId === undefined) return;
    let stale = false;
    api.members(repositoryId).then(
      (members) => {
        if (!stale) setRole(members.find((m) => m.userId === user.id)?.role);
      },
      () => undefined, // No role known: the actions stay hidden.
    );
    return () => {
      stale = true;
    };
  }, [user, repositoryId]);
  return {
    write: user.isAdmin || role === 'developer' || role === 'release-manager',
    release: user.isAdmin || role === 'release-manager',
  };
}

/**
 * Whether the user may decide on promotions anywhere: an administrator, or a release manager of
 * some repository. Only they are offered the approvals inbox.
 */
export function useMayApprove(user: User): boolean {
  const { data } = usePoll(
    `may-approve:${user.id}`,
    async () => {
      if (user.isAdmin) return true;
      const repositories = await api.repositories();
      const roles = await Promise.all(
        repositories.map(
          async (repository) =>
            (await api.members(repository.id)).find((m) => m.userId === user.id)?.role,
        ),
      );
      return roles.includes('release-manager');
    },
    300_000,
  );
  return user.isAdmin || data === true;
}
