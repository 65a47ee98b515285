import type { Forge } from '../webhook/types';

/** Kiln's state of a run (or job) as shown on the commit; each forge maps it to its own states. */
export type CommitState = 'pending' | 'running' | 'success' | 'failure' | 'error' | 'canceled';

export interface CommitStatusTarget {
  forge: Forge;
  /**
   * The forge API root, e.g. `https://api.github.com`, `https://gitlab.example.com/api/v4`,
   * `https://gitea.example.com/api/v1`, `https://api.bitbucket.org/2.0` (see defaultApiUrl).
   */
  apiUrl: string;
  /** `owner/name` (GitLab: `group/subgroup/name`; Bitbucket: `workspace/repo_slug`). */
  fullName: string;
  /** Full commit hash: 40 (SHA-1) or 64 (SHA-256) hex characters. */
  sha: string;
  /** Absent (or empty): the request is sent without credentials. */
  token?: string;
}

export interface CommitStatus {
  state: CommitState;
  /** Names the check on the commit; a new status with the same context replaces the old one. */
  context: string;
  description: string;
  /** Where the forge links the status to, e.g. the run's page in Kiln. */
  targetUrl: string;
}

/** One HTTP request to the forge, built without I/O so it can be inspected and tested. */
export interface CommitStatusRequest {
  method: 'POST';
  url: string;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}
