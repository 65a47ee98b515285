import { Injectable } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import { SecretBox } from '../secrets/secret-box';

/**
 * The per-task values derived from the server's key: nothing to store, and any server replica
 * sharing the key derives the same ones.
 */
@Injectable()
export class TaskTokens {
  constructor(private readonly secretBox: SecretBox) {}

  /** The bearer token a task's agent sends its log chunks with; good for this task only. */
  logToken(taskId: string): string {
    return this.secretBox.mac('log-token', taskId);
  }

  /** Whether `token` is the task's log token, compared in constant time. */
  verify(taskId: string, token: string | undefined): boolean {
    if (token === undefined) return false;
    // Digests have equal length whatever was sent, so the comparison takes the same time.
    return timingSafeEqual(digest(token), digest(this.logToken(taskId)));
  }

  /** The nonce of the task's step markers (see step-markers.ts). */
  stepNonce(taskId: string): string {
    return this.secretBox.mac('step-nonce', taskId).slice(0, 16);
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
