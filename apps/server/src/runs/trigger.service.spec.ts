import type { Repository, Run } from '@kiln/persistence';
import { describe, expect, it, vi } from 'vitest';
import { GitContentRefused, GitMirrorError } from '../git/git-mirror';
import { TransientTriggerError, TriggerService } from './trigger.service';

const run = {
  id: 'run-1',
  repositoryId: 'repo-1',
  state: 'pending',
  sha: 'a'.repeat(40),
  ref: 'refs/heads/main',
} as Run;
const repository = {
  id: 'repo-1',
  forge: 'github',
  cloneUrl: 'https://forge.invalid/acme/app.git',
} as Repository;

/** A trigger whose mirror fails to read `.kiln.yml` with `error`; what it did to the run. */
function triggerFailingWith(error: Error) {
  const transition = vi.fn(() => Promise.resolve({ ...run, state: 'error' }));
  const report = vi.fn(() => Promise.resolve());
  const failingMirror = {
    readBytes: () => Promise.reject(error),
  };
  // Only what a failed read reaches is faked: the run, its repository, the mirror, the report.
  const trigger = new TriggerService(
    { findById: () => Promise.resolve(run), transition } as never,
    {} as never,
    { findById: () => Promise.resolve(repository) } as never,
    {} as never,
    failingMirror as never,
    {} as never,
    {} as never,
    { report } as never,
    {} as never,
    {} as never,
    {} as never,
  );
  return { trigger, transition, report };
}

describe(TriggerService.name, () => {
  it('asks for a retry when the mirror cannot reach the forge', async () => {
    const { trigger, transition } = triggerFailingWith(
      new GitMirrorError('cannot fetch commit: connection refused'),
    );

    await expect(trigger.start(run.id, false)).rejects.toBeInstanceOf(TransientTriggerError);
    expect(transition).not.toHaveBeenCalled();
  });

  it('ends the run at the first attempt when the commit holds what is refused', async () => {
    const { trigger, transition, report } = triggerFailingWith(
      new GitContentRefused('.kiln.yml at aaaa is 2000000 bytes, over the limit of 1048576'),
    );

    await trigger.start(run.id, false);

    expect(transition).toHaveBeenCalledWith(run.id, ['pending'], 'error', {
      errors: [
        `.kiln.yml: cannot read it at ${run.sha}: .kiln.yml at aaaa is 2000000 bytes, over the limit of 1048576`,
      ],
    });
    expect(report).toHaveBeenCalledWith(expect.objectContaining({ state: 'error' }), 'error');
  });

  it('reads a commit ahead into the mirror once, however many runs of it are accepted', async () => {
    const withCommit = vi.fn(() => Promise.reject(new GitMirrorError('the forge is down')));
    // Only the mirror is reached: the repository has no forge token for the box to open.
    const trigger = new TriggerService(
      {} as never,
      {} as never,
      {} as never,
      {} as never,
      { withCommit } as never,
      {} as never,
      {} as never,
      {} as never,
      {} as never,
      {} as never,
      {} as never,
    );

    trigger.readAhead(repository, run);
    trigger.readAhead(repository, { ...run, id: 'run-2' });
    trigger.readAhead(repository, { ...run, id: 'run-3', sha: 'b'.repeat(40) });
    // A failure is the trigger's to meet and tell: nothing rejects here.
    await new Promise((resolve) => setImmediate(resolve));

    expect(withCommit.mock.calls.map((call: unknown[]) => call[2])).toEqual([
      'a'.repeat(40),
      'b'.repeat(40),
    ]);
  });
});
