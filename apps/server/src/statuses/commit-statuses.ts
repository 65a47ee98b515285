import {
  CommitStatusError,
  defaultApiUrl,
  sendCommitStatus,
  type CommitStatus,
  type CommitStatusTarget,
} from '@kiln/scm';
import { Injectable } from '@nestjs/common';

export { CommitStatusError };

/** The forges' commit status APIs, behind an adapter (services never speak HTTP to forges). */
@Injectable()
export class CommitStatuses {
  send(target: CommitStatusTarget, status: CommitStatus): Promise<void> {
    return sendCommitStatus(target, status, { signal: AbortSignal.timeout(15_000) });
  }

  apiUrl(forge: CommitStatusTarget['forge'], cloneUrl: string, configured?: string): string {
    return configured ?? defaultApiUrl(forge, cloneUrl);
  }
}
