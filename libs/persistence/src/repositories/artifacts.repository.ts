import { Inject, Injectable } from '@nestjs/common';
import type { Selectable } from 'kysely';
import type { DatabaseConnection } from '../connect';
import { DATABASE } from '../database.token';
import type { ArtifactsTable, RunState } from '../schema';

/** A file a job's attempt kept; its bytes are in the artifact storage. */
export interface Artifact {
  jobId: string;
  attempt: number;
  taskId: string;
  /** A normalised relative path (see normalizeArtifactName in @kiln/contracts). */
  name: string;
  size: number;
  /** Lowercase hex. */
  sha256: string;
  createdAt: Date;
}

/** The artifacts of one run, of all its jobs and attempts together: what retention weighs. */
export interface RunArtifacts {
  runId: string;
  runNumber: number;
  runState: RunState;
  count: number;
  /** In bytes. */
  size: number;
  /** When its newest artifact was stored. */
  newestAt: Date;
}

/** The artifacts of jobs' attempts: one per (job, attempt, name), the last upload winning. */
@Injectable()
export class ArtifactsRepository {
  constructor(@Inject(DATABASE) private readonly connection: DatabaseConnection) {}

  /** Records an artifact, replacing one of the same name (an agent's resend). */
  async upsert(artifact: Omit<Artifact, 'createdAt'>, now = new Date()): Promise<Artifact> {
    const row = {
      job_id: artifact.jobId,
      attempt: artifact.attempt,
      task_id: artifact.taskId,
      name: artifact.name,
      size: artifact.size,
      sha256: artifact.sha256,
      created_at: now.toISOString(),
    };
    await this.connection.db
      .insertInto('artifacts')
      .values(row)
      .onConflict((oc) =>
        oc.columns(['job_id', 'attempt', 'name']).doUpdateSet({
          task_id: row.task_id,
          size: row.size,
          sha256: row.sha256,
          created_at: row.created_at,
        }),
      )
      .execute();
    return { ...artifact, createdAt: now };
  }

  /** An attempt's artifacts, by name. */
  async list(jobId: string, attempt: number): Promise<Artifact[]> {
    const rows = await this.connection.db
      .selectFrom('artifacts')
      .selectAll()
      .where('job_id', '=', jobId)
      .where('attempt', '=', attempt)
      .orderBy('name')
      .execute();
    return rows.map(toArtifact);
  }

  async find(jobId: string, attempt: number, name: string): Promise<Artifact | undefined> {
    const row = await this.connection.db
      .selectFrom('artifacts')
      .selectAll()
      .where('job_id', '=', jobId)
      .where('attempt', '=', attempt)
      .where('name', '=', name)
      .executeTakeFirst();
    return row && toArtifact(row);
  }

  /** The artifacts of a run: each job's latest attempt's, by job position then name. */
  async listByRun(runId: string): Promise<(Artifact & { jobKey: string })[]> {
    const rows = await this.connection.db
      .selectFrom('artifacts')
      .innerJoin('jobs', 'jobs.id', 'artifacts.job_id')
      .selectAll('artifacts')
      .select('jobs.key as job_key')
      .where('jobs.run_id', '=', runId)
      .whereRef('artifacts.attempt', '=', 'jobs.attempt')
      .orderBy('jobs.position')
      .orderBy('artifacts.name')
      .execute();
    return rows.map((row) => ({ ...toArtifact(row), jobKey: row.job_key }));
  }

  /** The runs of a repository that have artifacts, newest (highest number) first. */
  async listRunsWithArtifacts(repositoryId: string): Promise<RunArtifacts[]> {
    const rows = await this.connection.db
      .selectFrom('artifacts')
      .innerJoin('jobs', 'jobs.id', 'artifacts.job_id')
      .innerJoin('runs', 'runs.id', 'jobs.run_id')
      .select((eb) => [
        'runs.id as run_id',
        'runs.number as run_number',
        'runs.state as run_state',
        eb.fn.countAll().as('count'),
        eb.fn.sum<number | string>('artifacts.size').as('size'),
        eb.fn.max('artifacts.created_at').as('newest_at'),
      ])
      .where('runs.repository_id', '=', repositoryId)
      .groupBy(['runs.id', 'runs.number', 'runs.state'])
      .orderBy('runs.number', 'desc')
      .execute();
    // PostgreSQL answers counts and sums of bigints as strings.
    return rows.map((row) => ({
      runId: row.run_id,
      runNumber: row.run_number,
      runState: row.run_state,
      count: Number(row.count),
      size: Number(row.size),
      newestAt: new Date(row.newest_at),
    }));
  }

  /** Forgets every artifact of a run (its bytes are the storage's to delete); how many. */
  async deleteByRun(runId: string): Promise<number> {
    const result = await this.connection.db
      .deleteFrom('artifacts')
      .where('job_id', 'in', (eb) =>
        eb.selectFrom('jobs').select('jobs.id').where('jobs.run_id', '=', runId),
      )
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

function toArtifact(row: Selectable<ArtifactsTable>): Artifact {
  return {
    jobId: row.job_id,
    attempt: row.attempt,
    taskId: row.task_id,
    name: row.name,
    size: Number(row.size),
    sha256: row.sha256,
    createdAt: new Date(row.created_at),
  };
}
