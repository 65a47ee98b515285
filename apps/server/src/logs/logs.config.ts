/** The logs' timings; the module provides the defaults, tests override them. */
export class LogsConfig {
  /** How often a live stream sends a comment, so proxies and browsers keep it open. */
  heartbeatMs = 15_000;
  /**
   * A followed task silent this long is checked on: what Redis may have lost is read from the
   * database, and if its job has ended (or moved on to another attempt) the stream ends.
   */
  idleMs = 5_000;
  /**
   * How often a follower of a job not launched yet asks whether it has its task: a UI opens the
   * log right after a push, and its first line should show within a fraction of a second.
   */
  taskPollMs = 100;
  /** How long what ingest needs of a task is remembered: chunks arrive every ~100 ms. */
  ingestCacheMs = 60_000;
  /** Chunks read from the database at a time when replaying or serving a log. */
  pageSize = 32;
}
