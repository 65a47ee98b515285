import { KeyedJournal } from '@kiln/common';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { CONTAINER_ID_PATTERN } from '../containerizer';
import { EXIT_FILE_PATTERN } from './exit-journal';

/** What `checkpoint` returns and `recover` takes back. */
export interface ProcessCheckpoint {
  /** The wrapper's pid, which is also the container's process group id. */
  pid: number;
  /** Field 22 of `/proc/<pid>/stat`: tells the process from a later one given the same pid. */
  startTime: number;
  maxCompletionTimeMs?: number;
  /** When the timeout fires, in epoch milliseconds: a recovered container keeps its deadline. */
  deadline?: number;
  /** The exit file its wrapper was given (see `exit-journal.ts`); unset before there were any. */
  exits?: string;
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
 * One agent per directory. The records are lines of one journal, `records`, not a file each: a
 * file per container cost an inode made and one removed per task, the slowest part of a trivial
 * task's launch on some hosts. They are not synced: a record is about processes, which a crash of
 * the host ends anyway.
 */
export class RuntimeRecords {
  readonly dir: string;
  private readonly journal: KeyedJournal;

  constructor(dir: string) {
    this.dir = resolve(dir);
    this.journal = new KeyedJournal(join(this.dir, 'records'), {
      keyField: 'containerId',
      mode: 0o600,
      durable: false,
    });
  }

  private made: Promise<void> | undefined;

  /** Made when first needed: once, not a file system call at every launch. */
  make(): Promise<void> {
    this.made ??= mkdir(this.dir, { recursive: true }).then(
      () => undefined,
      (error: unknown) => {
        this.made = undefined;
        throw error;
      },
    );
    return this.made;
  }

  write(record: RuntimeRecord): Promise<void> {
    return this.journal.put(record.containerId, JSON.stringify(record));
  }

  remove(containerId: string): Promise<void> {
    return this.journal.remove(containerId);
  }

  /**
   * Every record, by container id; a line or file that is no record of ours is left out. Called
   * once, by `recover`, before any `write`: it leaves the journal with these records only, and
   * folds in the file per container older agents kept.
   */
  async readAll(): Promise<Map<string, RuntimeRecord>> {
    await this.make();
    const lines = this.journal.readSync(() => undefined);
    const legacy = (await readdir(this.dir)).filter(
      (name) => name.endsWith('.json') || name.endsWith('.json.tmp'),
    );
    for (const name of legacy.filter((n) => n.endsWith('.json'))) {
      const record = parseLine(await readFile(join(this.dir, name), 'utf8').catch(() => ''));
      if (record !== undefined && !lines.has(record.containerId)) {
        lines.set(record.containerId, JSON.stringify(record));
      }
    }
    const records = new Map<string, RuntimeRecord>();
    const kept = new Map<string, string>();
    for (const [containerId, line] of lines) {
      const record = parseLine(line);
      if (record?.containerId !== containerId) continue;
      records.set(containerId, record);
      kept.set(containerId, line);
    }
    this.journal.resetSync(kept);
    // Only now that the journal holds them may the older agent's files (and half-written ones) go.
    await Promise.all(legacy.map((name) => rm(join(this.dir, name), { force: true })));
    return records;
  }
}

function parseLine(line: string): RuntimeRecord | undefined {
  try {
    return parseRuntimeRecord(JSON.parse(line));
  } catch {
    return undefined;
  }
}

export function parseCheckpoint(value: unknown): ProcessCheckpoint | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { pid, startTime, maxCompletionTimeMs, deadline, exits } = value as Record<string, unknown>;
  const isCount = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) > 0;
  if (!isCount(pid) || !Number.isSafeInteger(startTime)) return undefined;
  return {
    pid,
    startTime: startTime as number,
    ...(typeof maxCompletionTimeMs === 'number' ? { maxCompletionTimeMs } : {}),
    ...(typeof deadline === 'number' ? { deadline } : {}),
    ...(typeof exits === 'string' && EXIT_FILE_PATTERN.test(exits) ? { exits } : {}),
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
