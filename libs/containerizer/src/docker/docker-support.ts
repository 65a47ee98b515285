import type Docker from 'dockerode';
import { close, constants as fsConstants, open, write } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { OUTPUT_FILE_MODE, type ResourceUsage } from '../containerizer';

/**
 * Whether the engine refused to start a container because its init process had already died
 * (runc's "cannot start a stopped process", or the runtime's "container process is already
 * dead"). Seen now and then on a loaded host with no cause in the container: the command was
 * never executed, so starting a fresh container is safe.
 */
export function diedBeforeStart(error: unknown): boolean {
  const { statusCode, json } = (error ?? {}) as { statusCode?: unknown; json?: unknown };
  const message = (json as { message?: unknown } | null | undefined)?.message;
  return (
    statusCode === 500 &&
    typeof message === 'string' &&
    (message.includes('cannot start a stopped process') ||
      message.includes('container process is already dead'))
  );
}

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

/*
 * The OCI distribution reference grammar (distribution/reference's regexp.go): a build names its
 * image, and the name reaches the engine's URL paths unescaped (`/images/<name>/json`), where
 * `..`, `::::` or `@@` make requests the engine redirects or Node cannot even send.
 */
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?`;
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const NAME = `(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const REFERENCE = new RegExp(`^(${NAME})(?::${TAG})?(?:@${DIGEST})?$`);
/** The longest name (without tag or digest) the grammar allows. */
const NAME_MAX_LENGTH = 255;

/**
 * A valid image reference in full: its registry host, its path (`library/` for Docker Hub's
 * official images) and its tag (`latest` unless it has a tag or a digest). The engine looks a
 * name it cannot find up again as a prefix of an image's id: `e` would run whichever image the
 * engine holds whose id starts with e (another project's, a private one), where the full name
 * `docker.io/library/e:latest` is only ever that name.
 */
export function canonicalImageName(image: string): string {
  const match = REFERENCE.exec(image);
  const name = match?.[1];
  if (name === undefined) throw new Error(`${JSON.stringify(image)} is no image reference`);
  const rest = image.slice(name.length);
  const host = registryHostOf(name);
  const named = name.startsWith(`${host}/`);
  const path = named ? name.slice(host.length + 1) : name;
  const fullPath = host === DOCKER_HUB && !path.includes('/') ? `library/${path}` : path;
  const tagged = rest.startsWith(':') || rest.startsWith('@') ? rest : `:latest${rest}`;
  return `${host}/${fullPath}${tagged}`;
}

/** Whether `image` is a valid image reference (`[host[:port]/]path[:tag][@digest]`). */
export function isImageReference(image: string): boolean {
  const match = REFERENCE.exec(image);
  return match !== null && (match[1]?.length ?? 0) <= NAME_MAX_LENGTH;
}

/** The host's files that tell whether a container's cgroup hit its pids or memory limit. */
export interface LimitFiles {
  /** `pids.events`: its `max` line counts the forks refused at `pids.max`. */
  pids?: string;
  /** v1 `memory.oom_control`, v2 `memory.events`: their `oom_kill` line counts OOM kills. */
  memory?: string;
}

/**
 * The {@link LimitFiles} of the cgroups process `pid` is in, read from `/proc/<pid>/cgroup`
 * (cgroup v1's hierarchy of each controller, else the v2 unified one); empty when they cannot be
 * known, e.g. for an engine on another host, whose processes are not in this `/proc`.
 */
export async function limitFilesOf(
  pid: number,
  /**
   * The container's id, which its cgroup paths hold (`/docker/<id>`, `docker-<id>.scope`): a pid
   * read from the engine may have been reused by another process since, whose cgroups are not it.
   */
  dockerId: string,
  procRoot = '/proc',
  cgroupRoot = '/sys/fs/cgroup',
): Promise<LimitFiles> {
  let text: string;
  try {
    text = await readFile(`${procRoot}/${pid}/cgroup`, 'utf8');
  } catch {
    return {};
  }
  const lines = text
    .split('\n')
    .map((line) => line.split(':'))
    .filter((fields) => fields.length >= 3 && cgroupPathOf(fields).includes(dockerId));
  const v2 = lines.find((fields) => fields[0] === '0' && fields[1] === '');
  const fileOf = (controller: string, v1File: string, v2File: string) => {
    const v1 = lines.find((fields) => fields[1]?.split(',').includes(controller));
    // A v1 hierarchy is mounted under the names of its controllers, e.g. `cpu,cpuacct`.
    if (v1 !== undefined) return `${cgroupRoot}/${v1[1]}${cgroupPathOf(v1)}/${v1File}`;
    return v2 === undefined ? undefined : `${cgroupRoot}${cgroupPathOf(v2)}/${v2File}`;
  };
  const pids = fileOf('pids', 'pids.events', 'pids.events');
  const memory = fileOf('memory', 'memory.oom_control', 'memory.events');
  return { ...(pids === undefined ? {} : { pids }), ...(memory === undefined ? {} : { memory }) };
}

/** The cgroup path of a `/proc/<pid>/cgroup` line split at `:` (the path may hold colons). */
function cgroupPathOf(line: string[]): string {
  const path = line.slice(2).join(':');
  return path === '/' ? '' : path;
}

/** The number on the `key` line of a cgroup's flat keyed file; `undefined` if unreadable. */
export async function cgroupCounter(path: string, key: string): Promise<number | undefined> {
  try {
    const text = await readFile(path, 'utf8');
    const line = text.split('\n').find((l) => l.startsWith(`${key} `));
    const value = Number(line?.slice(key.length + 1));
    return line !== undefined && Number.isSafeInteger(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** The parts of `GET /containers/{id}/stats` this containerizer reads (cgroup v1 and v2). */
export interface DockerStatsSample {
  cpu_stats?: { cpu_usage?: { total_usage?: number } };
  memory_stats?: {
    usage?: number;
    max_usage?: number;
    limit?: number;
    stats?: Record<string, number>;
  };
  pids_stats?: { current?: number; limit?: number };
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
      open(this.path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW, OUTPUT_FILE_MODE, (error, fd) => {
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

/** The HTTP status of an engine's error, if it has one. */
export function statusCodeOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** Removes a container with whatever still runs in it; one already gone is fine. */
export async function removeDockerContainer(docker: Docker, dockerId: string): Promise<void> {
  try {
    await docker.getContainer(dockerId).remove({ force: true, v: true });
  } catch (error) {
    // 404: gone; 409: a removal is already under way.
    const status = statusCodeOf(error);
    if (status !== 404 && status !== 409) throw error;
  }
}
