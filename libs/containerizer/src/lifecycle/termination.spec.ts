import { describe, expect, it } from 'vitest';
import { killMessage, terminationOf } from './termination';

describe(terminationOf.name, () => {
  const usage = { cpuSeconds: 1.5 };

  it('finishes on exit code 0 and fails on any other', () => {
    expect(terminationOf({ code: 0 }, undefined, usage)).toEqual({
      state: 'TASK_FINISHED',
      message: 'exited with code 0',
      exitCode: 0,
      usage,
    });
    expect(terminationOf({ code: 3 }, undefined, undefined)).toEqual({
      state: 'TASK_FAILED',
      reason: 'COMMAND_EXITED_NONZERO',
      message: 'exited with code 3',
      exitCode: 3,
    });
  });

  it('names the signal that a code above 128 stands for, without claiming it', () => {
    expect(terminationOf({ code: 137 }, undefined, undefined).message).toBe(
      'exited with code 137 (as a shell reports a command killed by SIGKILL)',
    );
    expect(terminationOf({ code: 255 }, undefined, undefined).message).toBe('exited with code 255');
  });

  it('fails a task a signal ended unasked, with the signal', () => {
    expect(terminationOf({ signal: 'SIGSEGV' }, undefined, undefined)).toEqual({
      state: 'TASK_FAILED',
      message: 'killed by SIGSEGV',
      signal: 'SIGSEGV',
    });
  });

  it('makes any end after a kill request a kill, keeping how it ended', () => {
    const kill = { reason: 'TIMEOUT' as const, message: killMessage('TIMEOUT', 500) };
    expect(terminationOf({ code: 0 }, kill, usage)).toEqual({
      state: 'TASK_KILLED',
      reason: 'TIMEOUT',
      message: 'killed after running longer than its maximum completion time of 500 ms',
      exitCode: 0,
      usage,
    });
    expect(terminationOf({ signal: 'SIGKILL' }, kill, undefined)).toMatchObject({
      state: 'TASK_KILLED',
      signal: 'SIGKILL',
    });
  });

  it('tells a task that vanished during the restart from one that ended unrecorded', () => {
    expect(terminationOf({ unknown: 'vanished' }, undefined, undefined)).toMatchObject({
      state: 'TASK_FAILED',
      reason: 'AGENT_RESTARTED',
    });
    const unrecorded = terminationOf({ unknown: 'unrecorded' }, undefined, undefined);
    expect(unrecorded).toMatchObject({ state: 'TASK_FAILED' });
    expect(unrecorded.reason).toBeUndefined();
  });

  it('says a command that never started never ran', () => {
    const unstarted = terminationOf({ unstarted: true }, undefined, undefined);
    expect(unstarted).toMatchObject({ state: 'TASK_FAILED', reason: 'AGENT_RESTARTED' });
    expect(unstarted.message).toContain('never ran');
    expect(unstarted.exitCode).toBeUndefined();
  });
});
