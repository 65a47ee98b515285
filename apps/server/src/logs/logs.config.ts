import type { ServerEnv } from '@kiln/config';

/** The logs' timings and limit; the module provides the defaults, tests override them. */
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
  /**
   * How much of a job attempt's output is stored, in bytes: past it, a marker line says the log
   * was cut and the rest is dropped (its step boundaries are still recorded).
   */
  limitBytes = 16 * 1024 * 1024;

  /** The defaults, with what the server's environment sets. */
  static from(env: ServerEnv | undefined): LogsConfig {
    const config = new LogsConfig();
    if (env !== undefined) config.limitBytes = env.KILN_LOG_LIMIT_MIB * 1024 * 1024;
    return config;
  }
}
