import type { Generated, Insertable, Kysely, Selectable } from 'kysely';

/**
 * The database as Kysely sees it. Column types are the ones both dialects return unchanged:
 * text (ids, ISO-8601 UTC timestamps, JSON) and integers, so one repository serves both.
 */
export interface Database {
  repositories: RepositoriesTable;
  repository_secrets: RepositorySecretsTable;
  schedules: SchedulesTable;
  runs: RunsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  jobs: JobsTable;
  job_attempts: JobAttemptsTable;
  task_logs: TaskLogsTable;
  task_steps: TaskStepsTable;
  artifacts: ArtifactsTable;
  settings: SettingsTable;
  users: UsersTable;
  api_tokens: ApiTokensTable;
  sessions: SessionsTable;
  repository_roles: RepositoryRolesTable;
  environments: EnvironmentsTable;
  promotions: PromotionsTable;
  promotion_decisions: PromotionDecisionsTable;
  audit_events: AuditEventsTable;
  idempotency_keys: IdempotencyKeysTable;
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
  /** Sealed (see the server's SecretBox); null only for rows from before secrets existed. */
  webhook_secret: string | null;
  forge_token: string | null;
  api_url: string | null;
  auto_cancel_pull_requests: Generated<number>;
  run_counter: Generated<number>;
  artifact_retention_days: number | null;
  artifact_retention_runs: number | null;
}

export interface RepositorySecretsTable {
  repository_id: string;
  name: string;
  sealed_value: string;
  /** JSON list of environment names it is limited to; null: not limited. */
  environments: string | null;
  created_at: string;
  updated_at: string;
}

export interface SchedulesTable {
  id: string;
  repository_id: string;
  name: string;
  cron: string;
  branch: string;
  created_at: string;
}

export const RUN_STATES = [
  'pending',
  'running',
  'success',
  'failure',
  'error',
  'canceled',
] as const;
export type RunState = (typeof RUN_STATES)[number];

export const RUN_EVENTS = ['push', 'pull_request', 'tag', 'manual', 'cron', 'promote'] as const;
export type RunEvent = (typeof RUN_EVENTS)[number];

export interface RunsTable {
  id: string;
  repository_id: string;
  number: number;
  state: RunState;
  event: RunEvent;
  ref: string;
  branch: string | null;
  tag: string | null;
  sha: string;
  message: string | null;
  author: string | null;
  /** The user who started a manual run; null for runs a forge or a schedule started. */
  started_by: string | null;
  pull_request: number | null;
  from_fork: number;
  changed_files: string | null;
  errors: string | null;
  rerun_of: string | null;
  environment: string | null;
  promoted_run_id: string | null;
  /** When artifact retention deleted the run's artifacts. */
  artifacts_deleted_at: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

export interface WebhookDeliveriesTable {
  forge: Forge;
  delivery_id: string;
  repository_id: string;
  event: string;
  run_id: string | null;
  received_at: string;
}

export const JOB_STATES = [
  'blocked',
  'queued',
  'running',
  'success',
  'failure',
  'canceled',
  'skipped',
] as const;
export type JobState = (typeof JOB_STATES)[number];

export interface JobsTable {
  id: string;
  run_id: string;
  key: string;
  position: Generated<number>;
  state: JobState;
  plan: string;
  attempt: number;
  task_id: string | null;
  earlier_task_ids: Generated<string>;
  agent_id: string | null;
  status_message: string | null;
  exit_code: number | null;
  reason: string | null;
  usage: string | null;
  created_at: string;
  queued_at: string | null;
  started_at: string | null;
  finished_at: string | null;
}

/** How an attempt of a job ended; `lost`: its task was given up, how it ended is unknown. */
export const ATTEMPT_OUTCOMES = ['success', 'failure', 'canceled', 'lost'] as const;
export type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[number];

export interface JobAttemptsTable {
  job_id: string;
  attempt: number;
  task_id: string | null;
  state: AttemptOutcome;
  reason: string | null;
  status_message: string | null;
  exit_code: number | null;
  agent_id: string | null;
  queued_at: string | null;
  started_at: string | null;
  finished_at: string;
}
export type JobAttemptRow = Selectable<JobAttemptsTable>;

export interface TaskLogsTable {
  task_id: string;
  /** Where this chunk starts in the task's output, in bytes. */
  byte_offset: number;
  bytes: number;
  /** The number (from 1) of the chunk's first line in the task's output. */
  first_line: number;
  line_count: number;
  text: string;
  eof: Generated<number>;
  created_at: string;
}

export interface TaskStepsTable {
  task_id: string;
  idx: number;
  name: string;
  first_line: number;
  exit_code: number | null;
  started_at: string;
  finished_at: string | null;
}

export interface ArtifactsTable {
  job_id: string;
  attempt: number;
  task_id: string;
  name: string;
  size: number;
  sha256: string;
  created_at: string;
}

export interface SettingsTable {
  key: string;
  value: string;
}

export type RepositoryRow = Selectable<RepositoriesTable>;
export type RunRow = Selectable<RunsTable>;
export type JobRow = Selectable<JobsTable>;
export type NewRepositoryRow = Insertable<RepositoriesTable>;

export type KilnDatabase = Kysely<Database>;

export type Dialect = 'sqlite' | 'postgres';

export interface UsersTable {
  id: string;
  username: string;
  password_hash: string;
  is_admin: number;
  created_at: string;
  /** Set while the user is disabled. */
  disabled_at: string | null;
}

export interface ApiTokensTable {
  id: string;
  user_id: string;
  name: string;
  token_hash: string;
  created_at: string;
  last_used_at: string | null;
}

export interface SessionsTable {
  id_hash: string;
  user_id: string;
  csrf_token: string;
  created_at: string;
  expires_at: string;
}

/** Per repository, from least to most: each role may do what the ones before it may. */
export const REPOSITORY_ROLES = ['viewer', 'developer', 'release-manager'] as const;
export type RepositoryRole = (typeof REPOSITORY_ROLES)[number];

export interface RepositoryRolesTable {
  repository_id: string;
  user_id: string;
  role: RepositoryRole;
}

export interface EnvironmentsTable {
  id: string;
  repository_id: string;
  name: string;
  previous_id: string | null;
  required_approvals: number;
  /** JSON list of branch globs; null: any branch. */
  allowed_branches: string | null;
  approval_timeout_minutes: number;
  /** The deploy lock: the promotion deploying now, if any. */
  deploying_promotion_id: string | null;
  created_at: string;
}

export const PROMOTION_STATES = [
  /** Needs more approvals. */
  'awaiting-approval',
  /** Approved (or needs none), waiting for the environment's deploy lock. */
  'queued',
  /** Its promote run is running; it holds the lock. */
  'deploying',
  /** Its promote run succeeded. */
  'deployed',
  /** Its promote run failed, errored, or could not start. */
  'failed',
  'canceled',
  'rejected',
  'expired',
] as const;
export type PromotionState = (typeof PROMOTION_STATES)[number];

export interface PromotionsTable {
  id: string;
  repository_id: string;
  environment_id: string;
  run_id: string;
  deploy_run_id: string | null;
  state: PromotionState;
  rollback: number;
  requested_by: string;
  comment: string | null;
  required_approvals: number;
  status_message: string | null;
  requested_at: string;
  expires_at: string | null;
  started_at: string | null;
  finished_at: string | null;
}

export const PROMOTION_DECISIONS = ['approve', 'reject'] as const;
export type PromotionDecision = (typeof PROMOTION_DECISIONS)[number];

export interface PromotionDecisionsTable {
  promotion_id: string;
  user_id: string;
  decision: PromotionDecision;
  comment: string | null;
  created_at: string;
}

export interface AuditEventsTable {
  id: string;
  at: string;
  actor_id: string | null;
  actor_name: string | null;
  action: string;
  object_type: string;
  object_id: string;
  repository_id: string | null;
  summary: string;
  /** JSON object. */
  details: string;
}

export interface IdempotencyKeysTable {
  user_id: string;
  key: string;
  /** A digest of the request's method, path and body. */
  fingerprint: string;
  /** Null while the first request is being answered. */
  status: number | null;
  /** The first answer's JSON body. */
  body: string | null;
  created_at: string;
}
