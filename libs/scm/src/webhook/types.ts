export type Forge = 'github' | 'gitlab' | 'gitea' | 'forgejo' | 'bitbucket';

/** Request headers with lower-cased names, as Node's `IncomingMessage.headers` gives them. */
export type Headers = Record<string, string | string[] | undefined>;

export interface RepoRef {
  /** `owner/name` (GitLab: `group/subgroup/name`). */
  fullName: string;
  cloneUrl: string;
  /** The forge's own id (numeric ids stringified, Bitbucket's `{uuid}`): survives renames. */
  id?: string;
}

interface Delivery {
  forge: Forge;
  deliveryId: string;
}

export interface PushEvent extends Delivery {
  kind: 'push';
  repository: RepoRef;
  /** Full ref, e.g. `refs/heads/main` or `refs/tags/v1.0.0`. */
  ref: string;
  branch?: string;
  tag?: string;
  before: string;
  after: string;
  commitMessage?: string;
  author?: string;
  /**
   * Union of added/modified/removed paths over the commits the forge sent, sorted. Forges cap the
   * commit list (GitLab: 20), so this can be incomplete for large pushes; Bitbucket sends none.
   */
  changedFiles: string[];
  /** Head commit asks for no CI (`[skip ci]` / `[ci skip]`): Kiln must create no run. */
  skipCi: boolean;
}

export type PullRequestAction = 'opened' | 'updated' | 'reopened';

export interface PullRequestEvent extends Delivery {
  kind: 'pull_request';
  /** The base (target) repository: the one the webhook is configured on. */
  repository: RepoRef;
  action: PullRequestAction;
  number: number;
  title: string;
  /** Bitbucket Cloud only sends an abbreviated (12-char) hash here. */
  headSha: string;
  headBranch: string;
  baseBranch: string;
  /** Head lives in another repository (or the fork was deleted): treat its code as untrusted. */
  fromFork: boolean;
  author?: string;
}

export interface PingEvent extends Delivery {
  kind: 'ping';
  /** Absent for organization-level hooks. */
  repository?: RepoRef;
}

export interface IgnoredEvent extends Delivery {
  kind: 'ignored';
  reason: string;
}

export type TriggerEvent = PushEvent | PullRequestEvent | PingEvent | IgnoredEvent;
