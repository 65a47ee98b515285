import type { Migration } from 'kysely';
import * as m0001 from './0001_repositories';
import * as m0002 from './0002_pipelines';
import * as m0003 from './0003_accounts';
import * as m0004 from './0004_artifacts';
import * as m0005 from './0005_releases';
import * as m0006 from './0006_secret_environments';
import * as m0007 from './0007_run_artifacts_deleted';
import * as m0008 from './0008_job_attempts';
import * as m0009 from './0009_idempotency_keys';
import * as m0010 from './0010_users_disabled';
import * as m0011 from './0011_run_started_by';
import * as m0012 from './0012_repository_names_any_case';

/**
 * Every migration, keyed by a name that sorts in the order they run. Append only: a migration
 * that has run somewhere is never edited; a change is a new migration.
 */
export const migrations: Readonly<Record<string, Migration>> = {
  '0001_repositories': m0001,
  '0002_pipelines': m0002,
  '0003_accounts': m0003,
  '0004_artifacts': m0004,
  '0005_releases': m0005,
  '0006_secret_environments': m0006,
  '0007_run_artifacts_deleted': m0007,
  '0008_job_attempts': m0008,
  '0009_idempotency_keys': m0009,
  '0010_users_disabled': m0010,
  '0011_run_started_by': m0011,
  '0012_repository_names_any_case': m0012,
};
