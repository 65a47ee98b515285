import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  constants as fsConstants,
  existsSync,
  fsyncSync,
  linkSync,
  openSync,
  readFileSync,
  rmSync,
  writeSync,
} from 'node:fs';

const ALGORITHM = 'aes-256-gcm';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A sealed checkpoint file: the JSON a {@link CheckpointSeal} writes and reads back. */
interface SealedFile {
  sealed: typeof ALGORITHM;
  iv: string;
  tag: string;
  data: string;
}

/**
 * Seals the agent's task checkpoints with AES-256-GCM under a key of the agent's own, so that the
 * environments, secrets and task tokens they hold are never on disk in clear: a copy of the
 * checkpoints (a backup, a disk image, a log collector, a mistaken mount) tells nothing without
 * the key. The key is made once, 32 random bytes in a file only root can read (0600), beside the
 * checkpoints but not among them; sealing does not protect against whoever can read that file
 * too (host root), which is who must be able to restart the agent. Each file is bound to its task
 * (the id is the authenticated data), so a checkpoint cannot be passed off as another task's.
 */
export class CheckpointSeal {
  private constructor(private readonly key: Buffer) {}

  /** The seal whose key is in `keyPath`, making the key first if there is none. */
  static openOrCreate(keyPath: string): CheckpointSeal {
    if (!existsSync(keyPath)) {
      // Written aside and linked into place, so that a crash never leaves half a key behind (an
      // agent that could not start again), and a key made meanwhile is never replaced.
      const temporary = `${keyPath}.tmp`;
      rmSync(temporary, { force: true });
      const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fsConstants;
      const fd = openSync(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
      try {
        writeSync(fd, randomBytes(KEY_BYTES));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      try {
        linkSync(temporary, keyPath);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      } finally {
        rmSync(temporary, { force: true });
      }
    }
    const { O_RDONLY, O_NOFOLLOW } = fsConstants;
    // Never through a link: the key is read where it was written.
    const readFd = openSync(keyPath, O_RDONLY | O_NOFOLLOW);
    let key: Buffer;
    try {
      key = readFileSync(readFd);
    } finally {
      closeSync(readFd);
    }
    if (key.length !== KEY_BYTES) {
      throw new Error(
        `the checkpoint key ${keyPath} is not ${KEY_BYTES} bytes: restore it or remove it`,
      );
    }
    // A key an older agent made with a laxer umask is tightened.
    chmodSync(keyPath, 0o600);
    return new CheckpointSeal(key);
  }

  seal(plaintext: string, taskId: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, this.key, iv);
    cipher.setAAD(Buffer.from(taskId, 'utf8'));
    const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const file: SealedFile = {
      sealed: ALGORITHM,
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      data: data.toString('base64'),
    };
    return JSON.stringify(file);
  }

  /** The plaintext of a sealed file of `taskId`; throws when it was not sealed for it. */
  unseal(file: SealedFile, taskId: string): string {
    // The tag's length pinned: GCM would otherwise take a truncated, easier to forge, tag.
    const decipher = createDecipheriv(ALGORITHM, this.key, Buffer.from(file.iv, 'base64'), {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(Buffer.from(taskId, 'utf8'));
    decipher.setAuthTag(Buffer.from(file.tag, 'base64'));
    return Buffer.concat([
      decipher.update(Buffer.from(file.data, 'base64')),
      decipher.final(),
    ]).toString('utf8');
  }

  /** Whether parsed file content is a sealed file (else: a clear checkpoint of an older agent). */
  static isSealed(value: unknown): value is SealedFile {
    if (typeof value !== 'object' || value === null) return false;
    const { sealed, iv, tag, data } = value as Record<string, unknown>;
    return (
      sealed === ALGORITHM &&
      typeof iv === 'string' &&
      typeof tag === 'string' &&
      typeof data === 'string'
    );
  }
}
