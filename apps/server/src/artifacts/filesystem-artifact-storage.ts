import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  ArtifactRejectedError,
  ArtifactStorage,
  ArtifactTooLargeError,
  type ArtifactKey,
  type StoredArtifact,
} from './artifact-storage';

/**
 * Artifacts as files: `<root>/<runId>/<jobId>/<attempt>/<name>`. An upload is written to a
 * temporary file under `<root>/.tmp` (same filesystem) and renamed into place once its size and
 * checksum are right, so a reader never sees half a file.
 */
export class FilesystemArtifactStorage extends ArtifactStorage {
  private readonly root: string;

  constructor(root: string) {
    super();
    this.root = resolve(root);
  }

  async put(
    key: ArtifactKey,
    body: Readable,
    expected: { sha256: string; maxBytes: number },
  ): Promise<StoredArtifact> {
    const target = this.pathOf(key);
    const tmpDir = join(this.root, '.tmp');
    await mkdir(tmpDir, { recursive: true });
    const tmp = join(tmpDir, randomUUID());
    const hash = createHash('sha256');
    let size = 0;
    const measure = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        size += chunk.length;
        if (size > expected.maxBytes) {
          done(new ArtifactTooLargeError(expected.maxBytes));
          return;
        }
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(body, measure, createWriteStream(tmp, { flags: 'wx', mode: 0o600 }));
      const sha256 = hash.digest('hex');
      if (sha256 !== expected.sha256) {
        throw new ArtifactRejectedError(
          `the SHA-256 of the ${size} bytes received is ${sha256}, not ${expected.sha256}`,
        );
      }
      await mkdir(join(target, '..'), { recursive: true });
      await rename(tmp, target);
      return { size, sha256 };
    } catch (error) {
      await rm(tmp, { force: true });
      if (isCode(error, 'ENOTDIR') || isCode(error, 'EISDIR') || isCode(error, 'EEXIST')) {
        throw new ArtifactRejectedError(
          `${JSON.stringify(key.name)} clashes with another artifact (a file and a directory)`,
        );
      }
      throw error;
    }
  }

  async open(key: ArtifactKey): Promise<Readable | undefined> {
    const path = this.pathOf(key);
    try {
      if (!(await stat(path)).isFile()) return undefined;
    } catch (error) {
      if (isCode(error, 'ENOENT') || isCode(error, 'ENOTDIR')) return undefined;
      throw error;
    }
    return createReadStream(path);
  }

  async deleteRun(runId: string): Promise<void> {
    // A dot would name `.tmp` (or the root itself): never a run's directory.
    if (!isSegment(runId) || runId.startsWith('.')) {
      throw new Error(`${JSON.stringify(runId)} is not a run id`);
    }
    await rm(join(this.root, runId), { recursive: true, force: true });
  }

  /** The key's file; the name was normalised already, this is a second line of defence. */
  private pathOf(key: ArtifactKey): string {
    const parts = [key.runId, key.jobId, String(key.attempt), ...key.name.split('/')];
    if (!parts.every(isSegment)) {
      throw new ArtifactRejectedError(`${JSON.stringify(key.name)} is not an artifact name`);
    }
    const path = resolve(this.root, ...parts);
    const within = relative(this.root, path);
    if (within.startsWith('..') || resolve(this.root, within) !== path) {
      throw new ArtifactRejectedError(`${JSON.stringify(key.name)} escapes the artifact root`);
    }
    return path;
  }
}

/** One name of a path: not empty, not `.` or `..`, no separator. */
function isSegment(part: string): boolean {
  return part !== '' && part !== '.' && part !== '..' && !part.includes(sep);
}

function isCode(error: unknown, code: string): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === code;
}
