import { strict } from '@kiln/common/testing';
import {
  ARTIFACT_MAX_BYTES,
  ARTIFACTS_MAX_FILES,
  ARTIFACTS_MAX_TOTAL_BYTES,
} from '@kiln/contracts';
import type {
  Artifact,
  ArtifactsRepository,
  Job,
  JobsRepository,
  RunsRepository,
} from '@kiln/persistence';
import { ConflictException, PayloadTooLargeException } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  ArtifactStorage,
  ArtifactTooLargeError,
  type ArtifactKey,
  type StoredArtifact,
} from './artifact-storage';
import { ArtifactsService } from './artifacts.service';

const TASK_ID = 'job-j1-1-abc';
const JOB = { id: 'j1', runId: 'r1', attempt: 1, state: 'running' } as Job;
const ENDED_TASK_ID = 'job-j2-1-def';
const ENDED_JOB = { id: 'j2', runId: 'r1', attempt: 1, state: 'success' } as Job;

/** The attempt's artifact rows in memory, as the repository keeps them: one per name. */
class FakeArtifacts {
  readonly rows = new Map<string, Artifact>();

  add(name: string, size: number): void {
    this.rows.set(name, {
      jobId: JOB.id,
      attempt: JOB.attempt,
      taskId: TASK_ID,
      name,
      size,
      sha256: '0'.repeat(64),
      createdAt: new Date(0),
    });
  }

  list(): Promise<Artifact[]> {
    return Promise.resolve([...this.rows.values()]);
  }

  upsert(artifact: Omit<Artifact, 'createdAt'>): Promise<Artifact> {
    const row = { ...artifact, createdAt: new Date(0) };
    this.rows.set(artifact.name, row);
    return Promise.resolve(row);
  }
}

/** Takes a body whole, as the filesystem's does, refusing what is over the bytes it may take. */
class MeasuringStorage extends ArtifactStorage {
  readonly allowed: number[] = [];

  async put(
    _key: ArtifactKey,
    body: Readable,
    expected: { sha256: string; maxBytes: number },
  ): Promise<StoredArtifact> {
    this.allowed.push(expected.maxBytes);
    let size = 0;
    for await (const chunk of body) size += (chunk as Buffer).length;
    if (size > expected.maxBytes) throw new ArtifactTooLargeError(expected.maxBytes);
    return { size, sha256: expected.sha256 };
  }

  open(): Promise<Readable | undefined> {
    return Promise.resolve(undefined);
  }

  deleteRun(): Promise<void> {
    return Promise.resolve();
  }
}

describe(ArtifactsService.name, () => {
  let artifacts: FakeArtifacts;
  let storage: MeasuringStorage;
  let service: ArtifactsService;

  beforeEach(() => {
    artifacts = new FakeArtifacts();
    storage = new MeasuringStorage();
    service = new ArtifactsService(
      strict<JobsRepository>('JobsRepository', {
        findByTaskId: (taskId: string) =>
          Promise.resolve(
            taskId === TASK_ID ? JOB : taskId === ENDED_TASK_ID ? ENDED_JOB : undefined,
          ),
      }),
      strict<ArtifactsRepository>('ArtifactsRepository', artifacts),
      storage,
      strict<RunsRepository>('RunsRepository', {}),
    );
  });

  const upload = (name: string, text: string) =>
    service.upload(
      TASK_ID,
      name,
      createHash('sha256').update(text).digest('hex'),
      Readable.from([Buffer.from(text)]),
    );

  it("refuses a new name once the attempt keeps the most artifacts, and takes a resend's", async () => {
    for (let i = 0; i < ARTIFACTS_MAX_FILES; i++) artifacts.add(`out/${i}`, 1);

    const refused = upload('out/one-more', 'x');
    await expect(refused).rejects.toThrow(ConflictException);
    await expect(refused).rejects.toThrow(
      `attempt 1 of job j1 has ${ARTIFACTS_MAX_FILES} artifacts, the most it may keep: out/one-more is not stored`,
    );
    expect(artifacts.rows.has('out/one-more')).toBe(false);
    expect(storage.allowed).toEqual([]);

    // A resend replaces its name, and counts once.
    expect(await upload('out/7', 'again')).toMatchObject({ name: 'out/7', size: 5 });
    expect(artifacts.rows.size).toBe(ARTIFACTS_MAX_FILES);
  });

  it('lets an upload take only the bytes the attempt has left, and says so when it takes more', async () => {
    // Four files of 1 GiB minus 10 bytes: 40 bytes of the 4 GiB are left.
    for (let i = 0; i < 4; i++) artifacts.add(`big/${i}`, ARTIFACT_MAX_BYTES - 10);
    const left = ARTIFACTS_MAX_TOTAL_BYTES - 4 * (ARTIFACT_MAX_BYTES - 10);

    expect(await upload('small', 'x'.repeat(left))).toMatchObject({ size: left });
    expect(storage.allowed).toEqual([left]);

    // A resend of a big one may take that one's bytes again.
    expect(await upload('big/0', 'replaced')).toMatchObject({ size: 8 });

    artifacts.add('big/0', ARTIFACT_MAX_BYTES - 10);
    const over = upload('one-byte-more', 'x');
    await expect(over).rejects.toThrow(PayloadTooLargeException);
    await expect(over).rejects.toThrow(
      `attempt 1 of job j1 may keep ${ARTIFACTS_MAX_TOTAL_BYTES} bytes of artifacts in all, and 0 are left: one-byte-more is not stored`,
    );
  });

  it('refuses a body over what is left as over the total, not over the file limit', async () => {
    for (let i = 0; i < 4; i++) artifacts.add(`big/${i}`, ARTIFACT_MAX_BYTES - 3);
    const over = upload('thirteen-bytes', 'x'.repeat(13));
    await expect(over).rejects.toThrow(PayloadTooLargeException);
    await expect(over).rejects.toThrow('and 12 are left: thirteen-bytes is not stored');
    expect(artifacts.rows.has('thirteen-bytes')).toBe(false);
    expect(storage.allowed).toEqual([12]);
  });

  it('uploads of one attempt are taken one at a time, so that together they keep to the total', async () => {
    for (let i = 0; i < 4; i++) artifacts.add(`big/${i}`, ARTIFACT_MAX_BYTES - 2);
    // 8 bytes are left: the first two of three 4-byte uploads sent at once fit, the third not.
    const results = await Promise.allSettled(['a', 'b', 'c'].map((n) => upload(n, 'four')));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    expect(storage.allowed).toEqual([8, 4]);
  });

  it("refuses a task's uploads and inputs once its job has ended: its artifacts are then final", async () => {
    const late = (call: () => Promise<unknown>) =>
      expect(call()).rejects.toThrow(
        new ConflictException(
          `job j2 has ended (success): task ${ENDED_TASK_ID} may no longer act on it`,
        ),
      );
    await late(() =>
      service.upload(ENDED_TASK_ID, 'out/replaced', '0'.repeat(64), Readable.from([])),
    );
    await late(() => service.input(ENDED_TASK_ID, 'j1', 'out/a'));
    expect(storage.allowed).toEqual([]);
    expect(artifacts.rows.size).toBe(0);
  });
});
