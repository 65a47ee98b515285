import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { CONTAINER_ID_PATTERN } from '../containerizer';

/** What `checkpoint` returns and `recover` takes back. */
export interface ProcessCheckpoint {
  /** The wrapper's pid, which is also the container's process group id. */
  pid: number;
  /** Field 22 of `/proc/<pid>/stat`: tells the process from a later one given the same pid. */
  startTime: number;
  maxCompletionTimeMs?: number;
  /** When the timeout fires, in epoch milliseconds: a recovered container keeps its deadline. */
  deadline?: number;
}

/** A live container as the agent's own directory remembers it, whatever the agent checkpointed. */
export interface RuntimeRecord {
  containerId: string;
  sandbox: string;
  checkpoint: ProcessCheckpoint;
}

/**
 * A record of every live process container in a directory of the agent's own that outlives agent
 * restarts, so that `recover` can find and destroy the orphans the agent never checkpointed.
 * One agent per directory.
 */
export class RuntimeRecords {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = resolve(dir);
  }

  /** Made when first needed. */
  async make(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }

  async write(record: RuntimeRecord): Promise<void> {
    const path = this.pathOf(record.containerId);
    // Written aside and renamed, so a crash never leaves half a record.
    await writeFile(`${path}.tmp`, JSON.stringify(record));
    await rename(`${path}.tmp`, path);
  }

  async remove(containerId: string): Promise<void> {
    await rm(this.pathOf(containerId), { force: true });
  }

  /** Every record, by container id; a file that is no record of ours is left alone. */
  async readAll(): Promise<Map<string, RuntimeRecord>> {
    const records = new Map<string, RuntimeRecord>();
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return records;
    }
    for (const name of names.filter((n) => n.endsWith('.json'))) {
      try {
        const record = parseRuntimeRecord(JSON.parse(await readFile(join(this.dir, name), 'utf8')));
        if (record !== undefined) records.set(record.containerId, record);
      } catch {
        // Not a record of ours: leave it alone.
      }
    }
    return records;
  }

  private pathOf(containerId: string): string {
    return join(this.dir, `${containerId}.json`);
  }
}

export function parseCheckpoint(value: unknown): ProcessCheckpoint | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { pid, startTime, maxCompletionTimeMs, deadline } = value as Record<string, unknown>;
  const isCount = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) > 0;
  if (!isCount(pid) || !Number.isSafeInteger(startTime)) return undefined;
  return {
    pid,
    startTime: startTime as number,
    ...(typeof maxCompletionTimeMs === 'number' ? { maxCompletionTimeMs } : {}),
    ...(typeof deadline === 'number' ? { deadline } : {}),
  };
}

function parseRuntimeRecord(value: unknown): RuntimeRecord | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { containerId, sandbox, checkpoint } = value as Record<string, unknown>;
  const parsed = parseCheckpoint(checkpoint);
  if (typeof containerId !== 'string' || !CONTAINER_ID_PATTERN.test(containerId)) return undefined;
  if (typeof sandbox !== 'string' || parsed === undefined) return undefined;
  return { containerId, sandbox, checkpoint: parsed };
}
