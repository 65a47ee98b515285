import type Docker from 'dockerode';

/*
 * What the agent and the engine remember of a task's container: the agent's checkpoint, and the
 * labels the container carries, from which `recover` finds it again when the agent has none.
 */

/** What `checkpoint` returns and `recover` takes back. */
export interface DockerCheckpoint {
  /** The engine's id of the container. */
  dockerId: string;
  /** The sizes of `stdout` and `stderr` in the sandbox before the task wrote to them. */
  stdoutOffset: number;
  stderrOffset: number;
  maxCompletionTimeMs?: number;
  /** When the timeout fires, in epoch milliseconds: a recovered container keeps its deadline. */
  deadline?: number;
}

/** Labels of every container this containerizer creates: how `recover` finds them again. */
export const LABELS = {
  managed: 'io.kiln.managed',
  containerId: 'io.kiln.container-id',
  owner: 'io.kiln.owner',
  stdoutOffset: 'io.kiln.stdout-offset',
  stderrOffset: 'io.kiln.stderr-offset',
  maxCompletionTimeMs: 'io.kiln.max-completion-time-ms',
  deadline: 'io.kiln.deadline',
  /** `network` on a task's network holder, `task` on the task's own container. */
  role: 'io.kiln.role',
} as const;

/** The label value of a network holder's {@link LABELS.role}. */
export const NETWORK_ROLE = 'network';
/**
 * The label value of a task's own container's {@link LABELS.role}: set, as every label above is,
 * so that none comes from the task's image, whose labels the engine gives its containers too.
 */
export const TASK_ROLE = 'task';

/** What `recover` knows of a container: the agent's checkpoint, else the container's labels. */
export function checkpointOf(info: Docker.ContainerInfo, saved: DockerCheckpoint | undefined) {
  if (saved !== undefined && saved.dockerId === info.Id) return saved;
  const number = (label: string) => {
    const text = info.Labels[label];
    // Empty: a task without a timeout (the label is set so that its image cannot set it).
    if (text === undefined || text === '') return undefined;
    const value = Number(text);
    return Number.isFinite(value) ? value : undefined;
  };
  const timeoutMs = number(LABELS.maxCompletionTimeMs);
  const deadline = number(LABELS.deadline);
  const checkpoint: DockerCheckpoint = {
    dockerId: info.Id,
    stdoutOffset: number(LABELS.stdoutOffset) ?? 0,
    stderrOffset: number(LABELS.stderrOffset) ?? 0,
    ...(timeoutMs === undefined ? {} : { maxCompletionTimeMs: timeoutMs }),
    ...(deadline === undefined ? {} : { deadline }),
  };
  return checkpoint;
}

export function parseCheckpoint(value: unknown): DockerCheckpoint | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { dockerId, stdoutOffset, stderrOffset, maxCompletionTimeMs, deadline } = value as Record<
    string,
    unknown
  >;
  const isSize = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;
  if (typeof dockerId !== 'string' || !/^[0-9a-f]{64}$/.test(dockerId)) return undefined;
  return {
    dockerId,
    stdoutOffset: isSize(stdoutOffset) ? stdoutOffset : 0,
    stderrOffset: isSize(stderrOffset) ? stderrOffset : 0,
    ...(typeof maxCompletionTimeMs === 'number' ? { maxCompletionTimeMs } : {}),
    ...(typeof deadline === 'number' ? { deadline } : {}),
  };
}
