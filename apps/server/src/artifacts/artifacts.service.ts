import { KeyedMutex } from '@kiln/common';
import {
  ARTIFACT_MAX_BYTES,
  ARTIFACTS_MAX_FILES,
  ARTIFACTS_MAX_TOTAL_BYTES,
  ArtifactNameError,
  normalizeArtifactName,
} from '@kiln/contracts';
import { ArtifactsRepository, JobsRepository, RunsRepository, type Job } from '@kiln/persistence';
import {
  BadRequestException,
  ConflictException,
  Injectable,
  NotFoundException,
  PayloadTooLargeException,
} from '@nestjs/common';
import type { Readable } from 'node:stream';
import { ArtifactRejectedError, ArtifactStorage, ArtifactTooLargeError } from './artifact-storage';
import { jobOfLiveTask } from '../runs/live-task';
import { toArtifactResponse, type ArtifactResponse } from './artifacts.dto';

const SHA256 = /^[0-9a-f]{64}$/;

/** Jobs' artifacts: taken from the agents of their tasks, listed and served per attempt. */
@Injectable()
export class ArtifactsService {
  constructor(
    private readonly jobs: JobsRepository,
    private readonly artifacts: ArtifactsRepository,
    private readonly storage: ArtifactStorage,
    private readonly runs: RunsRepository,
  ) {}

  private readonly uploads = new KeyedMutex();

  /**
   * Stores an artifact of the task's attempt (the caller has checked the task's token). `path`
   * is the name as the route gave it, segment by segment, decoded.
   */
  async upload(
    taskId: string,
    path: string | string[],
    sha256: string | undefined,
    body: Readable,
  ): Promise<ArtifactResponse> {
    const name = artifactName(path);
    if (sha256 === undefined || !SHA256.test(sha256)) {
      throw new BadRequestException('x-kiln-sha256 must be the lowercase hex SHA-256 of the body');
    }
    const job = jobOfLiveTask(await this.jobs.findByTaskId(taskId), taskId);
    // One upload of an attempt at a time (in this process), so that its limits hold.
    return this.uploads.run(`${job.id}/${job.attempt}`, () =>
      this.store(job, taskId, name, sha256, body),
    );
  }

  /**
   * Stores one artifact within its attempt's limits, the ones an agent keeps to (an agent of
   * another make, or one a build took over, is held to them here): at most
   * {@link ARTIFACTS_MAX_FILES} names and {@link ARTIFACTS_MAX_TOTAL_BYTES} in all. A resend of a
   * name replaces it, and counts once.
   */
  private async store(
    job: Job,
    taskId: string,
    name: string,
    sha256: string,
    body: Readable,
  ): Promise<ArtifactResponse> {
    const others = (await this.artifacts.list(job.id, job.attempt)).filter((a) => a.name !== name);
    const attempt = `attempt ${job.attempt} of job ${job.id}`;
    if (others.length >= ARTIFACTS_MAX_FILES) {
      throw new ConflictException(
        `${attempt} has ${others.length} artifacts, the most it may keep: ${name} is not stored`,
      );
    }
    const left = ARTIFACTS_MAX_TOTAL_BYTES - others.reduce((sum, a) => sum + a.size, 0);
    const overTotal = () =>
      new PayloadTooLargeException(
        `${attempt} may keep ${ARTIFACTS_MAX_TOTAL_BYTES} bytes of artifacts in all, and ` +
          `${Math.max(0, left)} are left: ${name} is not stored`,
      );
    if (left <= 0) throw overTotal();
    const maxBytes = Math.min(ARTIFACT_MAX_BYTES, left);
    const key = { runId: job.runId, jobId: job.id, attempt: job.attempt, name };
    let stored;
    try {
      stored = await this.storage.put(key, body, { sha256, maxBytes });
    } catch (error) {
      if (error instanceof ArtifactTooLargeError && maxBytes < ARTIFACT_MAX_BYTES) {
        throw overTotal();
      }
      if (error instanceof ArtifactRejectedError) throw new BadRequestException(error.message);
      throw error;
    }
    const artifact = await this.artifacts.upsert({
      jobId: job.id,
      attempt: job.attempt,
      taskId,
      name,
      size: stored.size,
      sha256: stored.sha256,
    });
    return toArtifactResponse(artifact);
  }

  /** The artifacts of a job's attempt (the latest by default). */
  async list(jobId: string, attempt?: number): Promise<ArtifactResponse[]> {
    const job = await this.jobOf(jobId, attempt);
    const artifacts = await this.artifacts.list(job.id, attempt ?? job.attempt);
    return artifacts.map(toArtifactResponse);
  }

  /** One artifact of a job's attempt (the latest by default): what it is and its bytes. */
  async download(
    jobId: string,
    path: string | string[],
    attempt?: number,
  ): Promise<{ artifact: ArtifactResponse; body: Readable }> {
    const name = artifactName(path);
    const job = await this.jobOf(jobId, attempt);
    const chosen = attempt ?? job.attempt;
    const artifact = await this.artifacts.find(job.id, chosen, name);
    const body =
      artifact &&
      (await this.storage.open({ runId: job.runId, jobId: job.id, attempt: chosen, name }));
    if (artifact === undefined || body === undefined) {
      throw new NotFoundException(`attempt ${chosen} of job ${jobId} has no artifact ${name}`);
    }
    return { artifact: toArtifactResponse(artifact), body };
  }

  /**
   * An artifact of the run a `promote` task deploys, for that task's agent (the caller has
   * checked the task's token): a task reads only the artifacts of the run it deploys.
   */
  async input(
    taskId: string,
    jobId: string,
    path: string | string[],
  ): Promise<{ artifact: ArtifactResponse; body: Readable }> {
    const job = jobOfLiveTask(await this.jobs.findByTaskId(taskId), taskId);
    const run = await this.runs.findById(job.runId);
    if (run === undefined) {
      throw new NotFoundException(`task ${taskId} is not the current task of a job`);
    }
    const source = await this.jobs.findById(jobId);
    if (run.promotedRunId === undefined || source?.runId !== run.promotedRunId) {
      throw new NotFoundException(`job ${jobId} is not a job of the run task ${taskId} deploys`);
    }
    return this.download(jobId, path);
  }

  private async jobOf(jobId: string, attempt: number | undefined): Promise<Job> {
    const job = await this.jobs.findById(jobId);
    if (job === undefined) throw new NotFoundException(`job ${jobId} does not exist`);
    if (attempt !== undefined && attempt > job.attempt) {
      throw new NotFoundException(`job ${jobId} has no attempt ${attempt} (it has ${job.attempt})`);
    }
    return job;
  }
}

/** The route's wildcard (Express 5 gives its segments) as a normalised name, or a 400. */
function artifactName(path: string | string[]): string {
  try {
    return normalizeArtifactName(Array.isArray(path) ? path.join('/') : path);
  } catch (error) {
    if (error instanceof ArtifactNameError) throw new BadRequestException(error.message);
    throw error;
  }
}
