import type { Kysely } from 'kysely';

// Files a job's attempt kept (see the pipeline's `artifacts`); their bytes are in the artifact
// storage, under the run, the job, the attempt and the name.

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('artifacts')
    .addColumn('job_id', 'text', (c) => c.notNull().references('jobs.id').onDelete('cascade'))
    .addColumn('attempt', 'integer', (c) => c.notNull())
    // The task that uploaded it: an attempt's relaunch may replace it.
    .addColumn('task_id', 'text', (c) => c.notNull())
    // A relative `/`-separated path, normalised (see normalizeArtifactName).
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('size', 'bigint', (c) => c.notNull())
    // Lowercase hex SHA-256 of the bytes.
    .addColumn('sha256', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('artifacts_pkey', ['job_id', 'attempt', 'name'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('artifacts').execute();
}
