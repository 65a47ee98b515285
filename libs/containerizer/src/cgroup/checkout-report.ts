import { readFile } from 'node:fs/promises';
import type { Termination } from '../containerizer';
import { CHECKED_OUT } from './private-shell';

/**
 * The termination of a container that was to check its commit out, as the checkout's report
 * tells. Only the container's private shell writes the report, before its command starts, so a
 * command cannot make its own failure read as a checkout's. A checkout that failed, or that ended
 * without a word (a signal), is the task's failure, `SOURCE_CHECKOUT_FAILED`; one that a limit or
 * a kill ended keeps that reason and says when it came. Unchanged for a container that had
 * nothing to check out, or whose checkout was done.
 */
export async function afterCheckout(
  reportFile: string,
  termination: Termination,
): Promise<Termination> {
  const report = await readFile(reportFile, 'utf8').catch(() => undefined);
  if (report === undefined || report.split('\n').includes(CHECKED_OUT)) return termination;
  // Never started at all, or the command's own success (after a report the file did not take,
  // the agent's disk full, say): the account stands.
  if (termination.reason === 'AGENT_RESTARTED' || termination.state === 'TASK_FINISHED') {
    return termination;
  }
  const { reason } = termination;
  if (
    termination.state === 'TASK_FAILED' &&
    (reason === undefined || reason === 'COMMAND_EXITED_NONZERO')
  ) {
    const code = /^failed (\d+)$/m.exec(report)?.[1];
    return {
      ...termination,
      reason: 'SOURCE_CHECKOUT_FAILED',
      message: `${checkoutFailure(code === undefined ? undefined : Number(code), termination.message)}; the command never started`,
    };
  }
  return {
    ...termination,
    message: `${termination.message}, during the checkout: the command never started`,
  };
}

/** Why a container's checkout failed, from git's exit code if the report gave one. */
function checkoutFailure(code: number | undefined, ending: string): string {
  if (code === undefined) return `the checkout did not finish (${ending})`;
  // The shell's code for a program it cannot find.
  if (code === 127) {
    return "the checkout failed: there is no git in the container (it sees the agent host's git under /usr or /bin)";
  }
  return `the checkout failed: git exited with code ${code} (its words are in the task's log)`;
}
