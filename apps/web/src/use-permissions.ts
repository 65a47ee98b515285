import { useEffect, useState } from 'react';
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
