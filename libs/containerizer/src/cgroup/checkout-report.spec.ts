import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Termination } from '../containerizer';
import { afterCheckout } from './checkout-report';

describe(afterCheckout.name, () => {
  let dir: string;
  let report: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-checkout-report-'));
    report = join(dir, 'checkout');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const exited = (code: number): Termination => ({
    state: 'TASK_FAILED',
    reason: 'COMMAND_EXITED_NONZERO',
    message: `exited with code ${code}`,
    exitCode: code,
  });

  it('leaves the end of a container that checked nothing out, or whose checkout was done', async () => {
    expect(await afterCheckout(report, exited(3))).toEqual(exited(3));
    writeFileSync(report, 'checked-out\n');
    expect(await afterCheckout(report, exited(3))).toEqual(exited(3));
  });

  it("takes a failed checkout's code for the task's failure, its command never started", async () => {
    writeFileSync(report, 'failed 128\n');
    expect(await afterCheckout(report, exited(128))).toEqual({
      ...exited(128),
      reason: 'SOURCE_CHECKOUT_FAILED',
      message:
        "the checkout failed: git exited with code 128 (its words are in the task's log); " +
        'the command never started',
    });
    writeFileSync(report, 'failed 127\n');
    expect((await afterCheckout(report, exited(127))).message).toMatch(
      /^the checkout failed: there is no git in the container/,
    );
  });

  it('takes a checkout a signal ended without a word for a failed one', async () => {
    writeFileSync(report, '');
    const signalled: Termination = { state: 'TASK_FAILED', message: 'killed by SIGSEGV' };
    expect(await afterCheckout(report, signalled)).toEqual({
      ...signalled,
      reason: 'SOURCE_CHECKOUT_FAILED',
      message: 'the checkout did not finish (killed by SIGSEGV); the command never started',
    });
  });

  it('keeps the reason of a limit or a kill that ended the checkout, and says when it came', async () => {
    writeFileSync(report, '');
    const timedOut: Termination = { state: 'TASK_KILLED', reason: 'TIMEOUT', message: 'killed' };
    expect(await afterCheckout(report, timedOut)).toEqual({
      ...timedOut,
      message: 'killed, during the checkout: the command never started',
    });
  });

  it('leaves a success, or a task that never started, as they were, whatever the report lacks', async () => {
    writeFileSync(report, '');
    const finished: Termination = { state: 'TASK_FINISHED', message: 'exited with code 0' };
    expect(await afterCheckout(report, finished)).toEqual(finished);
    const unstarted: Termination = {
      state: 'TASK_FAILED',
      reason: 'AGENT_RESTARTED',
      message: 'never ran',
    };
    expect(await afterCheckout(report, unstarted)).toEqual(unstarted);
  });
});
