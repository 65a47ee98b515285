import type { Kysely, Selectable, Insertable } from 'kysely';

/**
 * The database as Kysely sees it. Column types are the ones both dialects return unchanged:
 * text (ids, ISO-8601 UTC timestamps, JSON) and integers, so one repository serves both.
 */
export interface Database {
  repositories: RepositoriesTable;
}

export const FORGES = ['github', 'gitlab', 'gitea', 'forgejo', 'bitbucket'] as const;
export type Forge = (typeof FORGES)[number];

export interface RepositoriesTable {
  id: string;
  forge: Forge;
  /** The forge's `owner/name` (GitLab: the full namespace path). */
  full_name: string;
  clone_url: string;
  default_branch: string;
  created_at: string;
}

export type RepositoryRow = Selectable<RepositoriesTable>;
export type NewRepositoryRow = Insertable<RepositoriesTable>;

export type KilnDatabase = Kysely<Database>;

export type Dialect = 'sqlite' | 'postgres';
