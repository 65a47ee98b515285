import { describe, expect, it } from 'vitest';
import { closesCycle, promotionRefusal } from './promotion-policy';

const build = { number: 7, state: 'success', event: 'push', branch: 'main' };
const production = {
  name: 'production',
  previous: 'staging',
  allowedBranches: ['main', 'release/*'],
};

describe('promotionRefusal', () => {
  it('lets a successful build on an allowed branch that passed the previous environment go', () => {
    expect(promotionRefusal(build, production, true)).toBeUndefined();
    expect(promotionRefusal({ ...build, branch: 'release/2.1' }, production, true)).toBeUndefined();
    expect(promotionRefusal(build, { name: 'staging' }, false)).toBeUndefined();
  });

  it('names the previous environment a run has not been deployed to', () => {
    expect(promotionRefusal(build, production, false)).toBe(
      'run #7 has not been deployed to staging: promote it to staging first',
    );
  });

  it('refuses a run that did not succeed, saying how it ended', () => {
    expect(promotionRefusal({ ...build, state: 'failure' }, production, true)).toBe(
      'run #7 ended failure: only a successful run can be promoted',
    );
  });

  it('refuses a run whose artifacts retention deleted: it would deploy without them', () => {
    const swept = { ...build, artifactsDeletedAt: new Date('2026-11-20T03:00:00Z') };
    expect(promotionRefusal(swept, production, true)).toBe(
      'run #7 has no artifacts any more (artifact retention deleted them on 2026-11-20): build its commit again',
    );
  });

  it('refuses a branch the environment does not allow, listing the allowed ones', () => {
    expect(promotionRefusal({ ...build, branch: 'feature/x' }, production, true)).toBe(
      'branch feature/x is not allowed in production (allowed: main, release/*)',
    );
    const tagged = { number: 7, state: 'success', event: 'tag' };
    expect(promotionRefusal(tagged, production, true)).toBe(
      'run #7 has no branch and is not allowed in production (allowed: main, release/*)',
    );
  });

  it("refuses a pull request's run: its branch is whatever its author named it", () => {
    expect(promotionRefusal({ ...build, event: 'pull_request' }, production, true)).toBe(
      "run #7 is a pull request's run: promote a run of the branch it merges into",
    );
  });

  it('refuses a deployment, pointing at the build it deployed', () => {
    expect(
      promotionRefusal({ ...build, event: 'promote', promotedRunNumber: 5 }, production, true),
    ).toBe('run #7 is a deployment of run #5, not a build: promote run #5 instead');
  });
});

describe('closesCycle', () => {
  it('sees a cycle a new previous environment would close, and none where there is none', () => {
    const envs = [{ id: 'd' }, { id: 's', previousId: 'd' }, { id: 'p', previousId: 's' }];
    expect(closesCycle(envs, 'd', 'p')).toBe(true);
    expect(closesCycle(envs, 'd', 'd')).toBe(true);
    expect(closesCycle(envs, 'p', 'd')).toBe(false);
  });
});
