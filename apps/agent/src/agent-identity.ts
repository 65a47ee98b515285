import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Injection token of the agent's id. */
export const AGENT_ID = Symbol('kiln:agent-id');

/**
 * The agent's id, made once and kept in its data directory: a restarted agent is the same agent
 * to the master, which is how its running tasks are reconciled rather than lost.
 */
export function loadAgentId(dataDir: string): string {
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'agent-id');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const id = randomUUID();
  writeFileSync(file, `${id}\n`);
  return id;
}
