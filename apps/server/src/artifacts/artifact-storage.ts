import type { Readable } from 'node:stream';

/** Where an artifact's bytes are: its job's run, the job, the attempt and its normalised name. */
export interface ArtifactKey {
  runId: string;
  jobId: string;
  attempt: number;
  name: string;
}

/** What was stored. */
export interface StoredArtifact {
  size: number;
  sha256: string;
}

/** Why an upload was not kept; a 4xx for the sender, nothing stored. */
export class ArtifactRejectedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = ArtifactRejectedError.name;
  }
}

/** An upload longer than the `maxBytes` it was allowed. */
export class ArtifactTooLargeError extends ArtifactRejectedError {
  constructor(maxBytes: number) {
    super(`the artifact is larger than ${maxBytes} bytes`);
    this.name = ArtifactTooLargeError.name;
  }
}

/**
 * The bytes of artifacts, behind one small interface so that an S3-compatible store can stand in
 * for the filesystem. `put` stores all of `body` or nothing: a body longer than `maxBytes` (an
 * {@link ArtifactTooLargeError}), or whose SHA-256 is not `sha256`, is refused with an
 * {@link ArtifactRejectedError} and leaves no trace; a second `put` of a key replaces the first. Keys are normalised names (see
 * normalizeArtifactName); an implementation still checks that a key stays under its root.
 */
export abstract class ArtifactStorage {
  abstract put(
    key: ArtifactKey,
    body: Readable,
    expected: { sha256: string; maxBytes: number },
  ): Promise<StoredArtifact>;

  /** The artifact's bytes, or undefined when the storage has none under the key. */
  abstract open(key: ArtifactKey): Promise<Readable | undefined>;

  /**
   * Deletes every artifact of a run, of all its jobs and attempts. Idempotent: a run with
   * nothing stored (or deleted already) is not an error.
   */
  abstract deleteRun(runId: string): Promise<void>;
}
