import { close, constants as fsConstants, open, write } from 'node:fs';
import { Writable } from 'node:stream';
import type { ResourceUsage } from '../containerizer';

/** Docker Hub's host, which references without a registry host name implicitly. */
export const DOCKER_HUB = 'docker.io';

/**
 * The registry host an image reference names, as the engine reads it: the first path component
 * when it looks like a host (has a `.` or a `:`, or is `localhost`), else Docker Hub.
 */
export function registryHostOf(image: string): string {
  const slash = image.indexOf('/');
  if (slash < 0) return DOCKER_HUB;
  const first = image.slice(0, slash);
  return first.includes('.') || first.includes(':') || first === 'localhost' ? first : DOCKER_HUB;
}

/** The parts of `GET /containers/{id}/stats` this containerizer reads (cgroup v1 and v2). */
export interface DockerStatsSample {
  cpu_stats?: { cpu_usage?: { total_usage?: number } };
  memory_stats?: { usage?: number; max_usage?: number; stats?: Record<string, number> };
}

/**
 * What a stats sample says, or `undefined` when it says nothing: the engine answers a stopped
 * container's stats with empty memory figures, and those must not replace the last real sample.
 * Memory now excludes the page cache (as `docker stats` does): the cache is reclaimable and the
 * memory limit does not kill for it. The peak (`max_usage`) exists on cgroup v1 only.
 */
export function usageOfStats(stats: DockerStatsSample): ResourceUsage | undefined {
  const memory = stats.memory_stats;
  if (memory?.usage === undefined) return undefined;
  const cache = memory.stats?.total_inactive_file ?? memory.stats?.inactive_file ?? 0;
  const memBytes = Math.max(0, memory.usage - cache);
  const cpuNs = stats.cpu_stats?.cpu_usage?.total_usage;
  return {
    ...(cpuNs === undefined ? {} : { cpuSeconds: cpuNs / 1e9 }),
    memBytes,
    memPeakBytes: Math.max(memory.max_usage ?? 0, memBytes),
  };
}

/** Merges a new sample into the last: the peak never goes down, even if a sample lacks it. */
export function mergeUsage(last: ResourceUsage | undefined, next: ResourceUsage): ResourceUsage {
  const peak = Math.max(last?.memPeakBytes ?? 0, next.memPeakBytes ?? 0);
  return { ...next, memPeakBytes: peak };
}

/**
 * Appends a container's output to a sandbox file. Opened without following a symlink: the
 * container sees only the workspace, not these files, but should a link get there anyway it must
 * not make the agent append to a file elsewhere. `skipBytes` drops the start of the stream: after
 * an agent restart the engine's log is replayed from the beginning, and what the earlier agent
 * already wrote is skipped.
 */
export class SandboxOutput extends Writable {
  private fd: number | undefined;
  private skip: number;

  constructor(
    private readonly path: string,
    skipBytes = 0,
  ) {
    super();
    this.skip = Math.max(0, skipBytes);
  }

  /** Opens the file; rejects (e.g. ELOOP for a link) before any output is taken. */
  opened(): Promise<this> {
    const { O_WRONLY, O_APPEND, O_CREAT, O_NOFOLLOW } = fsConstants;
    return new Promise((resolve, reject) => {
      open(this.path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW, 0o644, (error, fd) => {
        if (error) return reject(error);
        this.fd = fd;
        resolve(this);
      });
    });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (e?: Error) => void) {
    let data = chunk;
    if (this.skip > 0) {
      const skipped = Math.min(this.skip, data.length);
      this.skip -= skipped;
      data = data.subarray(skipped);
    }
    if (data.length === 0 || this.fd === undefined) return callback();
    this.writeAll(this.fd, data, callback);
  }

  override _final(callback: (e?: Error) => void) {
    this.closeFd(callback);
  }

  override _destroy(error: Error | null, callback: (e?: Error | null) => void) {
    this.closeFd(() => callback(error));
  }

  private writeAll(fd: number, data: Buffer, callback: (e?: Error) => void) {
    write(fd, data, (error, written) => {
      if (error) return callback(error);
      if (written < data.length) return this.writeAll(fd, data.subarray(written), callback);
      callback();
    });
  }

  private closeFd(callback: (e?: Error) => void) {
    const fd = this.fd;
    this.fd = undefined;
    if (fd === undefined) return callback();
    close(fd, (error) => callback(error ?? undefined));
  }
}
