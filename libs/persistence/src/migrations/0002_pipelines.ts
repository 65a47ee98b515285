import type { Kysely } from 'kysely';

// Runs, jobs, their logs and everything a webhook needs to become one. Kysely's schema builder
// only (see 0001). Booleans are integers 0/1 and JSON is text, so both dialects read them alike.

export async function up(db: Kysely<unknown>): Promise<void> {
  // Secrets are stored sealed (AES-256-GCM, see the server's SecretBox), never in the clear.
  await db.schema.alterTable('repositories').addColumn('webhook_secret', 'text').execute();
  await db.schema.alterTable('repositories').addColumn('forge_token', 'text').execute();
  // The forge's API root for commit statuses; null: derived from the forge and clone URL.
  await db.schema.alterTable('repositories').addColumn('api_url', 'text').execute();
  await db.schema
    .alterTable('repositories')
    .addColumn('auto_cancel_pull_requests', 'integer', (c) => c.notNull().defaultTo(1))
    .execute();
  // Run numbers per repository (#1, #2, …), handed out by incrementing this in the run's insert.
  await db.schema
    .alterTable('repositories')
    .addColumn('run_counter', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();

  await db.schema
    .createTable('repository_secrets')
    .addColumn('repository_id', 'text', (c) =>
      c.notNull().references('repositories.id').onDelete('cascade'),
    )
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('sealed_value', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('repository_secrets_pkey', ['repository_id', 'name'])
    .execute();

  await db.schema
    .createTable('schedules')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('repository_id', 'text', (c) =>
      c.notNull().references('repositories.id').onDelete('cascade'),
    )
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('cron', 'text', (c) => c.notNull())
    .addColumn('branch', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('schedules_repository_name_key', ['repository_id', 'name'])
    .execute();

  await db.schema
    .createTable('runs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('repository_id', 'text', (c) =>
      c.notNull().references('repositories.id').onDelete('cascade'),
    )
    .addColumn('number', 'integer', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('event', 'text', (c) => c.notNull())
    .addColumn('ref', 'text', (c) => c.notNull())
    .addColumn('branch', 'text')
    .addColumn('tag', 'text')
    .addColumn('sha', 'text', (c) => c.notNull())
    .addColumn('message', 'text')
    .addColumn('author', 'text')
    .addColumn('pull_request', 'integer')
    .addColumn('from_fork', 'integer', (c) => c.notNull().defaultTo(0))
    // JSON: the changed paths when the trigger knew them (for `when.path`), else null.
    .addColumn('changed_files', 'text')
    // JSON list of `line:col message` strings when the run is in state `error`.
    .addColumn('errors', 'text')
    .addColumn('rerun_of', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('started_at', 'text')
    .addColumn('finished_at', 'text')
    .addUniqueConstraint('runs_repository_number_key', ['repository_id', 'number'])
    .execute();
  // Run lists are newest first by number (the unique key serves them); this one serves the
  // list filtered by branch, the filter people use most.
  await db.schema
    .createIndex('runs_repository_branch_idx')
    .on('runs')
    .columns(['repository_id', 'branch', 'number'])
    .execute();
  await db.schema.createIndex('runs_state_idx').on('runs').column('state').execute();

  await db.schema
    .createTable('webhook_deliveries')
    .addColumn('forge', 'text', (c) => c.notNull())
    .addColumn('delivery_id', 'text', (c) => c.notNull())
    .addColumn('repository_id', 'text', (c) =>
      c.notNull().references('repositories.id').onDelete('cascade'),
    )
    .addColumn('event', 'text', (c) => c.notNull())
    .addColumn('run_id', 'text')
    .addColumn('received_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('webhook_deliveries_pkey', ['forge', 'delivery_id'])
    .execute();

  await db.schema
    .createTable('jobs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('run_id', 'text', (c) => c.notNull().references('runs.id').onDelete('cascade'))
    .addColumn('key', 'text', (c) => c.notNull())
    // The job's place in the compiled plan (dependencies first): the order people read them in.
    .addColumn('position', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('state', 'text', (c) => c.notNull())
    // JSON: the compiled PlanJob (image, steps, env, resources, needs, timeout, retry, …).
    .addColumn('plan', 'text', (c) => c.notNull())
    .addColumn('attempt', 'integer', (c) => c.notNull().defaultTo(0))
    // The cluster task of the current attempt, set before it is launched (exactly-once).
    .addColumn('task_id', 'text')
    // Comma-separated tasks of earlier attempts (retries, reruns), oldest first: their logs stay.
    .addColumn('earlier_task_ids', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('agent_id', 'text')
    // Why a queued job waits, or why a job ended as it did; for people.
    .addColumn('status_message', 'text')
    .addColumn('exit_code', 'integer')
    .addColumn('reason', 'text')
    // JSON: { cpuSeconds?, memPeakBytes? } from the terminal task status.
    .addColumn('usage', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('queued_at', 'text')
    .addColumn('started_at', 'text')
    .addColumn('finished_at', 'text')
    .addUniqueConstraint('jobs_run_key_key', ['run_id', 'key'])
    .execute();
  await db.schema.createIndex('jobs_task_idx').on('jobs').column('task_id').execute();
  await db.schema.createIndex('jobs_state_idx').on('jobs').column('state').execute();

  // A task's output, in the chunks its agent sent: byte ranges of the task's output, each
  // ending on a line boundary, already masked. (task_id, byte_offset) makes a resend a no-op.
  await db.schema
    .createTable('task_logs')
    .addColumn('task_id', 'text', (c) => c.notNull())
    .addColumn('byte_offset', 'bigint', (c) => c.notNull())
    .addColumn('bytes', 'integer', (c) => c.notNull())
    .addColumn('first_line', 'integer', (c) => c.notNull())
    .addColumn('line_count', 'integer', (c) => c.notNull())
    .addColumn('text', 'text', (c) => c.notNull())
    // 1 on the task's last chunk: its output is complete.
    .addColumn('eof', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('task_logs_pkey', ['task_id', 'byte_offset'])
    .execute();

  // Step boundaries seen in a task's output.
  await db.schema
    .createTable('task_steps')
    .addColumn('task_id', 'text', (c) => c.notNull())
    .addColumn('idx', 'integer', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('first_line', 'integer', (c) => c.notNull())
    .addColumn('exit_code', 'integer')
    .addColumn('started_at', 'text', (c) => c.notNull())
    .addColumn('finished_at', 'text')
    .addPrimaryKeyConstraint('task_steps_pkey', ['task_id', 'idx'])
    .execute();

  // Small named values a process must remember across restarts (the build framework's id).
  await db.schema
    .createTable('settings')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of [
    'settings',
    'task_steps',
    'task_logs',
    'jobs',
    'webhook_deliveries',
    'runs',
    'schedules',
    'repository_secrets',
  ]) {
    await db.schema.dropTable(table).execute();
  }
  for (const column of [
    'run_counter',
    'auto_cancel_pull_requests',
    'api_url',
    'forge_token',
    'webhook_secret',
  ]) {
    await db.schema.alterTable('repositories').dropColumn(column).execute();
  }
}
