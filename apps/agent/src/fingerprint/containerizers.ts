import { errorMessage } from '@kiln/common';
import type { AgentEnv } from '@kiln/config';
import {
  CgroupContainerizer,
  DockerContainerizer,
  IdPool,
  ProcessContainerizer,
  TASK_ID_RANGES,
  type Containerizer,
} from '@kiln/containerizer';
import type { ContainerizerName } from '@kiln/contracts';
import { Logger } from '@nestjs/common';
import { join, resolve } from 'node:path';

const logger = new Logger('Fingerprint');

/**
 * The containerizers that work on this host, in order of preference for a task that names none:
 * native cgroups where the agent is root and the hierarchies are writable (DC/OS's default),
 * else a plain process; Docker is there for tasks that name an image. Each is probed, and what
 * is missing is logged with the reason, so an operator knows why an agent advertises what it does.
 */
export async function workingContainerizers(
  env: AgentEnv,
  agentId: string,
): Promise<Containerizer[]> {
  const dataDir = resolve(env.KILN_DATA_DIR);
  const allowed = allowedNames(env.KILN_AGENT_CONTAINERIZERS);
  const found: Containerizer[] = [];
  const grace = env.KILN_AGENT_KILL_GRACE_MS;
  // One pool for both kinds of container: ids the native containerizer maps a container's users
  // to, and the Docker one checks a task's source out as, are never two tasks' at once.
  const idPool = new IdPool({ firstHostId: env.KILN_AGENT_FIRST_HOST_ID, ...TASK_ID_RANGES });

  if (allowed.has('cgroup')) {
    const seccompProfile = env.KILN_AGENT_SECCOMP_PROFILE;
    const detection = await CgroupContainerizer.detect(
      seccompProfile === undefined ? {} : { seccompProfile },
    ).catch((error: unknown) => ({
      supported: false as const,
      reason: errorMessage(error),
    }));
    if (detection.supported) {
      // Each agent owns its own parent cgroup: its recovery destroys unknown cgroups there.
      found.push(
        new CgroupContainerizer({
          parent: `kiln/${agentId}`,
          defaultGracePeriodMs: grace,
          idPool,
          hostNetwork: env.KILN_AGENT_HOST_NETWORK,
          // Beside the sandboxes, on their file system: a warm container's is renamed to a task's.
          warm: { count: env.KILN_AGENT_WARM_CONTAINERS, dir: join(dataDir, 'warm') },
          warn: (message) => logger.warn(message),
          ...(seccompProfile === undefined ? {} : { seccompProfile }),
        }),
      );
    } else {
      logger.warn(`no cgroup containerizer: ${detection.reason}`);
    }
  }
  if (allowed.has('process')) {
    found.push(
      new ProcessContainerizer({
        runtimeDir: join(dataDir, 'runtime', 'process'),
        defaultGracePeriodMs: grace,
      }),
    );
  }
  if (allowed.has('docker')) {
    const detection = await DockerContainerizer.detect();
    if (detection.available) {
      found.push(
        new DockerContainerizer({
          owner: agentId,
          defaultGracePeriodMs: grace,
          hostNetwork: env.KILN_AGENT_HOST_NETWORK,
          // Only root may check out as another user.
          ...(process.getuid?.() === 0 ? { idPool } : {}),
          ...(env.KILN_AGENT_REGISTRY_AUTH === undefined
            ? {}
            : { registryAuth: parseRegistryAuth(env.KILN_AGENT_REGISTRY_AUTH) }),
        }),
      );
    } else {
      logger.warn(`no docker containerizer: ${detection.reason}`);
    }
  }
  logger.log(`containerizers: ${found.map((c) => c.name).join(', ')}`);
  if (found[0]?.name === 'process') {
    logger.warn(
      'tasks without an image run with the process containerizer, as this agent itself and ' +
        'isolated from nothing: give this agent trusted builds only (see docs/security.md)',
    );
  }
  return found;
}

function allowedNames(list: string | undefined): Set<ContainerizerName> {
  const all: ContainerizerName[] = ['cgroup', 'process', 'docker'];
  if (list === undefined) return new Set(all);
  const names = list.split(',').map((name) => name.trim());
  for (const name of names) {
    if (!all.includes(name as ContainerizerName)) {
      throw new Error(
        `KILN_AGENT_CONTAINERIZERS: unknown containerizer "${name}" (${all.join(', ')})`,
      );
    }
  }
  return new Set(names as ContainerizerName[]);
}

/** `{"registry.example.com":{"username":"u","password":"p"}}` → credentials per registry host. */
export function parseRegistryAuth(
  json: string,
): Record<string, { username: string; password: string }> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new Error('KILN_AGENT_REGISTRY_AUTH must be JSON: {"host":{"username":…,"password":…}}');
  }
  const valid =
    typeof parsed === 'object' &&
    parsed !== null &&
    Object.values(parsed).every(
      (c) =>
        typeof c === 'object' &&
        c !== null &&
        typeof (c as { username?: unknown }).username === 'string' &&
        typeof (c as { password?: unknown }).password === 'string',
    );
  if (!valid) {
    throw new Error('KILN_AGENT_REGISTRY_AUTH must map registry hosts to {username, password}');
  }
  return parsed as Record<string, { username: string; password: string }>;
}
