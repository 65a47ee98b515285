/**
 * Task states, as in Mesos: STAGING (master accepted the launch) → STARTING (agent is launching)
 * → RUNNING → one terminal state. UNREACHABLE is not terminal: the agent may come back.
 */
export const TASK_STATES = [
  'TASK_STAGING',
  'TASK_STARTING',
  'TASK_RUNNING',
  'TASK_FINISHED',
  'TASK_FAILED',
  'TASK_KILLING',
  'TASK_KILLED',
  'TASK_ERROR',
  'TASK_DROPPED',
  'TASK_UNREACHABLE',
  'TASK_LOST',
  'TASK_GONE',
  'TASK_UNKNOWN',
] as const;
export type TaskState = (typeof TASK_STATES)[number];

const TERMINAL: ReadonlySet<TaskState> = new Set([
  'TASK_FINISHED',
  'TASK_FAILED',
  'TASK_KILLED',
  'TASK_ERROR',
  'TASK_DROPPED',
  'TASK_LOST',
  'TASK_GONE',
]);

/** A terminal task never changes state again and holds no resources. */
export function isTerminal(state: TaskState): boolean {
  return TERMINAL.has(state);
}

/** Why a task is in its state; carried by every status that has a reason. */
export const TASK_REASONS = [
  /** The command exited non-zero (the exit code is in the status). */
  'COMMAND_EXITED_NONZERO',
  /** The task ran past its `maxCompletionTimeSeconds` and was killed. */
  'TIMEOUT',
  /** A framework asked for the kill. */
  'KILLED_BY_FRAMEWORK',
  /** The memory limit was hit: the kernel's OOM killer ended the task. */
  'CONTAINER_LIMITATION_MEMORY',
  /** The pids limit stopped the task from forking. */
  'CONTAINER_LIMITATION_PIDS',
  /** The container could not be created or started. */
  'CONTAINER_LAUNCH_FAILED',
  /** The task's source could not be checked out. */
  'SOURCE_CHECKOUT_FAILED',
  /** The task's artifact inputs could not be fetched or placed in its sandbox. */
  'ARTIFACT_INPUTS_FAILED',
  /** A signal nobody asked for ended the task. */
  'COMMAND_SIGNALED',
  /** No containerizer on the agent can run the task as specified. */
  'CONTAINERIZER_NOT_SUPPORTED',
  /** The task description is invalid (checked by the master or the agent). */
  'TASK_INVALID',
  /** The agent stopped answering heartbeats. */
  'AGENT_UNREACHABLE',
  /** The agent was removed from the cluster. */
  'AGENT_REMOVED',
  /** The agent restarted and the task's container was gone. */
  'AGENT_RESTARTED',
  /** The agent was not connected when the launch was forwarded. */
  'AGENT_DISCONNECTED',
  /** The framework was torn down. */
  'FRAMEWORK_REMOVED',
  /** The offers of an ACCEPT were invalid, so its launches were dropped. */
  'INVALID_OFFERS',
  /** The status answers a reconciliation request. */
  'RECONCILIATION',
] as const;
export type TaskReason = (typeof TASK_REASONS)[number];
