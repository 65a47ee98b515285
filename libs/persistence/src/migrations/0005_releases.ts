import type { Kysely } from 'kysely';

// Releases: environments a repository's runs are promoted through, the promotions with their
// approvals, the promote runs they start, artifact retention, and the audit log.

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('environments')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('repository_id', 'text', (c) =>
      c.notNull().references('repositories.id').onDelete('cascade'),
    )
    .addColumn('name', 'text', (c) => c.notNull())
    // Concourse's `passed:`: a run must have been deployed there before it may come here.
    .addColumn('previous_id', 'text', (c) => c.references('environments.id'))
    .addColumn('required_approvals', 'integer', (c) => c.notNull().defaultTo(0))
    // JSON list of branch globs; null: any branch.
    .addColumn('allowed_branches', 'text')
    .addColumn('approval_timeout_minutes', 'integer', (c) => c.notNull().defaultTo(1440))
    // The deploy lock: the promotion deploying now. Taken and released by compare-and-set on
    // this one row, so two servers (or two events) can never start two deployments at once.
    .addColumn('deploying_promotion_id', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('environments_repository_name', ['repository_id', 'name'])
    .execute();

  await db.schema
    .createTable('promotions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('repository_id', 'text', (c) =>
      c.notNull().references('repositories.id').onDelete('cascade'),
    )
    .addColumn('environment_id', 'text', (c) =>
      c.notNull().references('environments.id').onDelete('cascade'),
    )
    // The run promoted (a build that passed) and the `promote` run that deploys it.
    .addColumn('run_id', 'text', (c) => c.notNull().references('runs.id').onDelete('cascade'))
    .addColumn('deploy_run_id', 'text', (c) => c.references('runs.id'))
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('rollback', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('requested_by', 'text', (c) => c.notNull().references('users.id'))
    .addColumn('comment', 'text')
    // The environment's policy when it was asked: a later change does not move the goalposts.
    .addColumn('required_approvals', 'integer', (c) => c.notNull())
    .addColumn('status_message', 'text')
    .addColumn('requested_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text')
    .addColumn('started_at', 'text')
    .addColumn('finished_at', 'text')
    .execute();
  await db.schema
    .createIndex('promotions_environment')
    .on('promotions')
    .columns(['environment_id', 'requested_at'])
    .execute();
  await db.schema.createIndex('promotions_run').on('promotions').column('run_id').execute();
  await db.schema
    .createIndex('promotions_deploy_run')
    .on('promotions')
    .column('deploy_run_id')
    .execute();
  await db.schema.createIndex('promotions_state').on('promotions').column('state').execute();

  // One decision per person per promotion: approving twice counts once.
  await db.schema
    .createTable('promotion_decisions')
    .addColumn('promotion_id', 'text', (c) =>
      c.notNull().references('promotions.id').onDelete('cascade'),
    )
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
    .addColumn('decision', 'text', (c) => c.notNull())
    .addColumn('comment', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('promotion_decisions_pkey', ['promotion_id', 'user_id'])
    .execute();

  // What a promote run deploys, where: its context for `.kiln.yml` and its jobs.
  await db.schema.alterTable('runs').addColumn('environment', 'text').execute();
  await db.schema.alterTable('runs').addColumn('promoted_run_id', 'text').execute();

  // Artifact retention per repository: null keeps them (by that measure).
  await db.schema
    .alterTable('repositories')
    .addColumn('artifact_retention_days', 'integer')
    .execute();
  await db.schema
    .alterTable('repositories')
    .addColumn('artifact_retention_runs', 'integer')
    .execute();

  // Who did what, when. No foreign keys: the record outlives what it is about.
  await db.schema
    .createTable('audit_events')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('actor_id', 'text')
    .addColumn('actor_name', 'text')
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('object_type', 'text', (c) => c.notNull())
    .addColumn('object_id', 'text', (c) => c.notNull())
    .addColumn('repository_id', 'text')
    .addColumn('summary', 'text', (c) => c.notNull())
    .addColumn('details', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('audit_events_at').on('audit_events').columns(['at', 'id']).execute();
  await db.schema
    .createIndex('audit_events_repository')
    .on('audit_events')
    .columns(['repository_id', 'at'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('audit_events').execute();
  await db.schema.alterTable('repositories').dropColumn('artifact_retention_runs').execute();
  await db.schema.alterTable('repositories').dropColumn('artifact_retention_days').execute();
  await db.schema.alterTable('runs').dropColumn('promoted_run_id').execute();
  await db.schema.alterTable('runs').dropColumn('environment').execute();
  await db.schema.dropTable('promotion_decisions').execute();
  await db.schema.dropTable('promotions').execute();
  await db.schema.dropTable('environments').execute();
}
