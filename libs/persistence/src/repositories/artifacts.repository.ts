import { Inject, Injectable } from '@nestjs/common';
import type { Selectable } from 'kysely';
import type { DatabaseConnection } from '../connect';
import { DATABASE } from '../database.token';
import type { ArtifactsTable } from '../schema';

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
