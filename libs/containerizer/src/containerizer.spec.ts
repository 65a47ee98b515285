import { describe, expect, it } from 'vitest';
import { assertValidContainerId, ContainerLaunchError } from './containerizer';

describe(assertValidContainerId.name, () => {
  it('accepts ids made of safe characters', () => {
    for (const id of ['task-1', 'job_42.attempt-3', 'A', 'x'.repeat(200)]) {
      expect(() => assertValidContainerId(id)).not.toThrow();
    }
  });

  it('rejects anything that could escape a path or a name, as TASK_INVALID', () => {
    for (const id of ['', '.', '..', '../etc', 'a/b', 'a b', 'ünïcode', 'a\0b', 'x'.repeat(201)]) {
      const error = (() => {
        try {
          assertValidContainerId(id);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(error, JSON.stringify(id)).toBeInstanceOf(ContainerLaunchError);
      expect(error).toMatchObject({ reason: 'TASK_INVALID' });
    }
  });
});
