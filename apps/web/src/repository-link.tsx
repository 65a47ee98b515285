import type { ReactNode } from 'react';
import { api } from './api';
import { Link } from './router';
import { usePoll } from './use-poll';

/** A link to a repository's runs, named once its name has loaded. */
export function RepositoryLink(props: { id: string }): ReactNode {
  const { data } = usePoll(`repository:${props.id}`, () => api.repository(props.id));
  return <Link to={`/repositories/${props.id}`}>{data?.fullName ?? 'repository'}</Link>;
}
