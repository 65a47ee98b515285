import { SetMetadata } from '@nestjs/common';
import type { RepositoryRole } from '@kiln/persistence';

/** What identifies the repository a route acts on: the route parameter and what it names. */
export type ResourceKind = 'repository' | 'run' | 'job' | 'schedule' | 'promotion';

export type Access =
  | { kind: 'public' }
  /** Any signed-in user; what they see is filtered by the service. */
  | { kind: 'user' }
  | { kind: 'admin' }
  | { kind: 'repository'; role: RepositoryRole; resource: ResourceKind; param: string };

export const ACCESS = 'kiln:access';

/** Who may call a route. Every route has exactly one: the authorization test checks. */
export const Allow = {
  /** No sign-in: authenticated otherwise (webhook signatures, task tokens) or harmless. */
  public: (): MethodDecorator & ClassDecorator => SetMetadata(ACCESS, { kind: 'public' }),
  user: (): MethodDecorator & ClassDecorator => SetMetadata(ACCESS, { kind: 'user' }),
  admin: (): MethodDecorator & ClassDecorator => SetMetadata(ACCESS, { kind: 'admin' }),
  /**
   * Users with at least `role` on the repository that the route parameter `param` (a
   * `resource` id) belongs to; admins always. Others get 404, as if it did not exist.
   */
  repository: (
    role: RepositoryRole,
    resource: ResourceKind,
    param: string,
  ): MethodDecorator & ClassDecorator =>
    SetMetadata(ACCESS, { kind: 'repository', role, resource, param } satisfies Access),
};
