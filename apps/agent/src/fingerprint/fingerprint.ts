import {
  parseAttributes,
  parseResources,
  resources,
  SCALARS,
  type ContainerizerName,
  type Resources,
} from '@kiln/contracts';
import { statfs } from 'node:fs/promises';
import { arch, availableParallelism, platform, totalmem } from 'node:os';

const MIB = 1024 * 1024;
/** Mesos' default port range for tasks. */
const DEFAULT_PORTS: [number, number] = [31000, 32000];

export interface Fingerprint {
  resources: Resources;
  attributes: Record<string, string>;
}

/**
 * What this host offers the cluster. Memory keeps a reserve for the agent and the system (10 %,
 * at most 1 GiB); disk is what is free where sandboxes live. Any kind named in `override`
 * (`cpus:2;mem:4096`) replaces the detected figure: operators share hosts, tests pretend.
 */
export async function fingerprint(
  dataDir: string,
  override?: string,
  extraAttributes?: string,
): Promise<Fingerprint> {
  const memMiB = Math.floor(totalmem() / MIB);
  const stats = await statfs(dataDir);
  const detected = resources({
    cpus: availableParallelism(),
    mem: memMiB - Math.min(1024, Math.floor(memMiB * 0.1)),
    disk: Math.floor((stats.bavail * stats.bsize) / MIB),
    ports: [DEFAULT_PORTS],
  });
  const result = { ...detected };
  if (override !== undefined) {
    const given = parseResources(override);
    const named = new Set(override.split(';').map((part) => part.split(':')[0]?.trim()));
    for (const kind of SCALARS) if (named.has(kind)) result[kind] = given[kind];
    if (named.has('ports')) result.ports = given.ports;
  }
  return {
    resources: result,
    attributes: { os: platform(), arch: arch(), ...parseAttributes(extraAttributes ?? '') },
  };
}

/** The containerizers this agent can use, in order of preference for tasks that name none. */
export type Containerizers = readonly ContainerizerName[];
