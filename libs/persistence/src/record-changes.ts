import type { JobState, PromotionState, RunState } from './schema';

/**
 * A record that changed, as the repositories see it once the write has committed. What pages
 * watch live (runs, jobs, promotions, environments) is written only through these repositories,
 * so their writes are the one place where every change is seen; the server fans them out.
 * `repositoryId` is given where the write knows it; a reader resolves it otherwise.
 */
export type RecordChange =
  | { kind: 'run'; id: string; repositoryId: string; state: RunState }
  | { kind: 'job'; id: string; runId: string; state?: JobState }
  | {
      kind: 'promotion';
      id: string;
      repositoryId?: string;
      runId?: string;
      state?: PromotionState;
    }
  | { kind: 'environment'; id: string; repositoryId: string };

/** Where the repositories report changes. Must not throw or block: the write has happened. */
export interface RecordChanges {
  changed(change: RecordChange): void;
}

/** The provider of {@link RecordChanges}; optional: without one, changes go nowhere. */
export const RECORD_CHANGES = Symbol('kiln:record-changes');

/** For repositories constructed without one (tests, tools). */
export const NO_RECORD_CHANGES: RecordChanges = { changed: () => undefined };
