import { setTimeout as sleep } from 'node:timers/promises';
import {
  hasExited,
  kernelListsChildren,
  listGroupMembers,
  listProcesses,
  readProcStat,
  type ProcStat,
} from './proc';

/*
 * A process container's process group, seen from the outside: who is in it, whether anyone still
 * runs, and how to signal it without signalling someone else's group under a reused pid.
 */

/** How often a container's process group is checked for survivors once its leader has ended. */
const GROUP_POLL_MS = 50;
/** How long survivors get after SIGKILL before the container is declared ended anyway. */
const SIGKILL_PATIENCE_MS = 10_000;

/** The group's leader (the wrapper) as its checkpoint records it; its pid is the group's id. */
export interface GroupLeader {
  pid: number;
  /** Field 22 of `/proc/<pid>/stat`: tells the process from a later one given the same pid. */
  startTime: number;
}

/** What is known of a group between two looks at it. */
export interface WatchedGroup {
  /** The group's members at the last look: where the next one walks down from. */
  members: readonly number[];
  /** A kill under way: survivors get SIGKILL only once it reaches its deadline. */
  readonly kill?: { readonly deadline: number };
}

export function isLeader(stat: ProcStat | undefined, leader: GroupLeader): stat is ProcStat {
  return stat !== undefined && stat.pid === leader.pid && stat.startTime === leader.startTime;
}

/** Signals process group `pgid`. Errors are ignored: an empty group is not one. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: nobody left in the group.
  }
}

/**
 * Signals the container's group unless its leader's pid now belongs to another process: then
 * the group has long been empty (a pid is not reused while it names a group with members) and
 * the new process's group may be anyone's.
 */
export async function signalUnlessReused(
  leader: GroupLeader,
  signal: NodeJS.Signals,
): Promise<void> {
  const stat = await readProcStat(leader.pid);
  if (stat !== undefined && stat.startTime !== leader.startTime) return;
  signalGroup(leader.pid, signal);
}

/**
 * Waits until nothing of the group runs, killing the survivors once the kill under way (if any)
 * reaches its deadline; gives up {@link SIGKILL_PATIENCE_MS} after the first SIGKILL.
 */
export async function untilGroupGone(group: WatchedGroup, leader: GroupLeader): Promise<void> {
  let sigkillSince: number | undefined;
  while (await groupAlive(group, leader)) {
    const now = Date.now();
    if (group.kill === undefined || now >= group.kill.deadline) {
      sigkillSince ??= now;
      if (now - sigkillSince > SIGKILL_PATIENCE_MS) return;
      await signalUnlessReused(leader, 'SIGKILL');
    }
    await sleep(GROUP_POLL_MS);
  }
}

/** Whether any process of the group is still running (zombies have ended already). */
async function groupAlive(group: WatchedGroup, leader: GroupLeader): Promise<boolean> {
  try {
    process.kill(-leader.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  // Someone is in the group, but zombies count for kill(2) and may wait long for their reaper.
  const stat = await readProcStat(leader.pid);
  if (stat !== undefined && !isLeader(stat, leader)) return false;
  if (await kernelListsChildren()) {
    const members = await listGroupMembers(leader.pid, [leader.pid, ...group.members]);
    if (members.some((member) => !hasExited(member))) return true;
  }
  // Only zombies where the walk went, or members it could not reach (orphaned before any sample
  // saw them): only a look at every process tells. Rare, and those found are walked from next.
  const everyMember = (await listProcesses()).filter((p) => p.pgrp === leader.pid);
  group.members = everyMember.map((member) => member.pid);
  return everyMember.some((member) => !hasExited(member));
}

/**
 * The processes of the container's group: walked down to from its leader and from the members
 * the last look saw, or, on a kernel that does not list children, found among every process.
 */
export async function groupMembers(
  group: WatchedGroup,
  leader: GroupLeader,
  scan: () => Promise<ProcStat[]> = listProcesses,
): Promise<ProcStat[]> {
  if (!(await kernelListsChildren())) {
    return (await scan()).filter((p) => p.pgrp === leader.pid);
  }
  return listGroupMembers(leader.pid, [leader.pid, ...group.members]);
}
