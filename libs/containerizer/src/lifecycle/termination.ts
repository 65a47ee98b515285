import type { LeaderExit } from '@kiln/common';
import type { TaskReason } from '@kiln/contracts';
import { constants } from 'node:os';
import type { ResourceUsage, Termination } from '../containerizer';

// Defined beside the launcher, which hears the leaders' exits.
export type { LeaderExit };

/** A kill that was asked for before the leader ended: it decides the termination. */
export interface KillRequest {
  reason: TaskReason;
  message: string;
}

export function terminationOf(
  exit: LeaderExit,
  kill: KillRequest | undefined,
  usage: ResourceUsage | undefined,
): Termination {
  const how = 'code' in exit ? { exitCode: exit.code } : 'signal' in exit ? exit : {};
  const withUsage = usage === undefined ? {} : { usage };
  if (kill !== undefined) {
    return {
      state: 'TASK_KILLED',
      reason: kill.reason,
      message: kill.message,
      ...how,
      ...withUsage,
    };
  }
  if ('code' in exit) {
    if (exit.code === 0) {
      return { state: 'TASK_FINISHED', message: 'exited with code 0', ...how, ...withUsage };
    }
    return {
      state: 'TASK_FAILED',
      reason: 'COMMAND_EXITED_NONZERO',
      message: `exited with code ${exit.code}${signalHint(exit.code)}`,
      ...how,
      ...withUsage,
    };
  }
  if ('signal' in exit) {
    return { state: 'TASK_FAILED', message: `killed by ${exit.signal}`, ...how, ...withUsage };
  }
  if ('unstarted' in exit) {
    return {
      state: 'TASK_FAILED',
      reason: 'AGENT_RESTARTED',
      message: 'the agent, or its launcher, was lost before the command started; it never ran',
      ...withUsage,
    };
  }
  if (exit.unknown === 'vanished') {
    return {
      state: 'TASK_FAILED',
      reason: 'AGENT_RESTARTED',
      message: 'the process vanished while the agent was away, leaving no exit code',
      ...withUsage,
    };
  }
  return {
    state: 'TASK_FAILED',
    message: 'the process ended without leaving an exit code (killed by a signal?)',
    ...withUsage,
  };
}

/** The message of a kill with `reason`. */
export function killMessage(reason: TaskReason, maxCompletionTimeMs?: number): string {
  switch (reason) {
    case 'KILLED_BY_FRAMEWORK':
      return 'killed at the request of the framework';
    case 'TIMEOUT':
      return `killed after running longer than its maximum completion time of ${maxCompletionTimeMs ?? '?'} ms`;
    default:
      return `killed (${reason})`;
  }
}

/**
 * A shell reports a command that a signal ended as 128 + the signal's number, and the wrapper
 * passes on what its shell saw: say which signal that would be, since it usually is one (137 is
 * the SIGKILL of the OOM killer), without claiming it, since `exit 137` looks the same.
 */
function signalHint(code: number): string {
  const name = Object.entries(constants.signals).find(([, number]) => number === code - 128)?.[0];
  return name === undefined ? '' : ` (as a shell reports a command killed by ${name})`;
}
