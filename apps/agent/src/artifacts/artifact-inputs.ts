import { errorMessage } from '@kiln/common';
import {
  ArtifactNameError,
  normalizeArtifactName,
  type ArtifactInputFile,
  type ArtifactInputsInfo,
} from '@kiln/contracts';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, type Stats } from 'node:fs';
import { lstat, mkdir, realpath, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FinalFailure, requestWithRetries, type RetryPolicy } from './artifact-request';

/** Why one artifact input could not be placed; the message names it: `artifact <name>: …`. */
export class ArtifactInputError extends Error {
  constructor(
    readonly artifactName: string,
    readonly problem: string,
  ) {
    super(`artifact ${artifactName}: ${problem}`);
    this.name = ArtifactInputError.name;
  }
}

/** The bytes the server sent are not the artifact's: trying again would fetch the same. */
class ArtifactBytesMismatch extends FinalFailure {}

/**
 * Places a task's artifact inputs into its sandbox, after the source checkout and before the
 * command, and returns one line per file for the task's output. Each file is fetched (tried again
 * on network errors and 5xx) into a temporary file beside its place, checked for its size and
 * sha256 while it streams, then renamed to its name; the first file that fails throws an
 * {@link ArtifactInputError}, with nothing left at that file's name.
 *
 * The checkout is the repository's, so hostile: a name is checked with normalizeArtifactName,
 * its directories are made one at a time and refused when one is a symbolic link or not a
 * directory (a committed `dist -> /etc`), and a symbolic link at the name itself is refused, so
 * nothing is written outside the sandbox. The checks and the writes do not race the build: its
 * command has not started yet.
 */
export async function fetchArtifactInputs(
  sandbox: string,
  inputs: ArtifactInputsInfo,
  signal: AbortSignal,
  retry?: RetryPolicy,
): Promise<string[]> {
  const root = await realpath(sandbox);
  const lines: string[] = [];
  const placed = new Set<string>();
  for (const file of inputs.files) {
    const name = checkedName(file.name);
    if (placed.has(name)) throw new ArtifactInputError(name, 'it is listed twice');
    await fetchOne(root, name, file, inputs.token, signal, retry);
    placed.add(name);
    lines.push(
      `kiln: artifact ${name}: fetched (${file.size} bytes, sha256 ${file.sha256.slice(0, 12)})`,
    );
  }
  return lines;
}

function checkedName(name: string): string {
  try {
    return normalizeArtifactName(name);
  } catch (error) {
    // Quoted: a name that is refused may hold anything, a newline included.
    if (error instanceof ArtifactNameError) {
      throw new ArtifactInputError(JSON.stringify(name), error.problem);
    }
    throw error;
  }
}

async function fetchOne(
  root: string,
  name: string,
  file: ArtifactInputFile,
  token: string,
  signal: AbortSignal,
  retry: RetryPolicy | undefined,
): Promise<void> {
  const segments = name.split('/');
  const base = segments.pop() ?? name;
  const dir = await makeDirectories(root, name, segments);
  const path = join(dir, base);
  const existing = await lstatOrUndefined(name, path, name);
  if (existing?.isSymbolicLink() === true) {
    throw new ArtifactInputError(name, 'it is a symbolic link in the workspace');
  }
  if (existing?.isDirectory() === true) {
    throw new ArtifactInputError(name, 'it is a directory in the workspace');
  }
  // Beside its place, so the rename stays on one file system and is atomic.
  const temporary = join(dir, `.kiln-artifact-${randomBytes(8).toString('hex')}.part`);
  try {
    await requestWithRetries(
      () => fetch(file.url, { headers: { authorization: `Bearer ${token}` }, signal }),
      (res) => receive(res, file, temporary, signal),
      signal,
      retry,
    );
  } catch (error) {
    await rm(temporary, { force: true });
    throw new ArtifactInputError(
      name,
      error instanceof ArtifactBytesMismatch
        ? error.message
        : `download failed: ${errorMessage(error)}`,
    );
  }
  try {
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw new ArtifactInputError(name, `cannot put it in place: ${errorMessage(error)}`);
  }
}

/**
 * The directory of `name` inside `root`, made one segment at a time. A segment that exists must
 * be a real directory: `mkdir -p` or a plain open would follow a link the checkout put there.
 */
async function makeDirectories(root: string, name: string, segments: string[]): Promise<string> {
  let dir = root;
  for (let i = 0; i < segments.length; i++) {
    const shown = segments.slice(0, i + 1).join('/');
    dir = join(dir, segments[i] ?? '');
    const found = await lstatOrUndefined(name, dir, shown);
    if (found === undefined) {
      try {
        await mkdir(dir);
      } catch (error) {
        throw new ArtifactInputError(name, `cannot create ${shown}: ${errorMessage(error)}`);
      }
    } else if (found.isSymbolicLink()) {
      throw new ArtifactInputError(name, `${shown} is a symbolic link in the workspace`);
    } else if (!found.isDirectory()) {
      throw new ArtifactInputError(name, `${shown} is not a directory in the workspace`);
    }
  }
  return dir;
}

async function lstatOrUndefined(
  name: string,
  path: string,
  shown: string,
): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ArtifactInputError(name, `cannot inspect ${shown}: ${errorMessage(error)}`);
  }
}

/** Streams an ok answer into `temporary` (made anew), checking its size and sha256 as it goes. */
async function receive(
  res: Response,
  file: ArtifactInputFile,
  temporary: string,
  signal: AbortSignal,
): Promise<void> {
  await rm(temporary, { force: true });
  const hash = createHash('sha256');
  let received = 0;
  const check = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
      received += chunk.length;
      // Stopped at once: a server sending too much must not fill the agent's disk.
      if (received > file.size) {
        done(new ArtifactBytesMismatch(`size mismatch: expected ${file.size} bytes, got more`));
        return;
      }
      hash.update(chunk);
      done(null, chunk);
    },
  });
  const body = res.body === null ? Readable.from([]) : Readable.fromWeb(res.body);
  // `wx`: a file made here, never one that appeared at the temporary name.
  await pipeline(body, check, createWriteStream(temporary, { flags: 'wx' }), { signal });
  if (received !== file.size) {
    throw new ArtifactBytesMismatch(`size mismatch: expected ${file.size} bytes, got ${received}`);
  }
  const sha256 = hash.digest('hex');
  if (sha256 !== file.sha256) {
    throw new ArtifactBytesMismatch(`sha256 mismatch: expected ${file.sha256}, got ${sha256}`);
  }
}
