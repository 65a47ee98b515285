import type { Kysely } from 'kysely';

// Every ended attempt of a job (a retry, a rerun, a task given up as lost) with its task and
// outcome: a job's own columns describe only its latest attempt.

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('job_attempts')
    .addColumn('job_id', 'text', (c) => c.notNull().references('jobs.id').onDelete('cascade'))
    .addColumn('attempt', 'integer', (c) => c.notNull())
    .addColumn('task_id', 'text')
    // success, failure, canceled or lost (the task was given up: nobody knows how it ended).
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('status_message', 'text')
    .addColumn('exit_code', 'integer')
    .addColumn('agent_id', 'text')
    .addColumn('queued_at', 'text')
    .addColumn('started_at', 'text')
    .addColumn('finished_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('job_attempts_pkey', ['job_id', 'attempt'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('job_attempts').execute();
}
