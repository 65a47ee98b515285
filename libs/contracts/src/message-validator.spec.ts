import { plainToInstance } from 'class-transformer';
import { IsString, validateSync, ValidateNested, type ValidationError } from 'class-validator';
import { describe, expect, it } from 'vitest';
import { AgentCall } from './agent.messages';
import { compileMessageValidator, Nested } from './message-validator';
import { SchedulerCall } from './scheduler.messages';
import { TaskInfo } from './task.messages';

const task = {
  taskId: 'build-1',
  name: 'build',
  command: { shell: true, value: 'make', arguments: ['-j2'], environment: { CI: 'true' } },
  resources: { cpus: 1, mem: 128, disk: 0, ports: [[31000, 31001]] },
  container: { type: 'docker', image: 'alpine', network: 'none' },
  source: { url: 'https://git.test/r.git', sha: 'a'.repeat(40), cacheKey: 'r' },
  labels: { team: 'ci' },
  inputs: {
    token: 't',
    files: [{ name: 'dist/a.tgz', sha256: 'ab'.repeat(32), size: 1, url: 'http://s.test/a' }],
  },
};
const accept = {
  type: 'ACCEPT',
  frameworkId: 'fw-1',
  accept: {
    offerIds: ['o-1'],
    operations: [{ type: 'LAUNCH', launch: { taskInfos: [task] } }],
    filters: { refuseSeconds: 5 },
  },
};
const launched = 'accept.operations.0.launch.taskInfos.0';

const validateCall = compileMessageValidator(SchedulerCall);
const validateTask = compileMessageValidator(TaskInfo);

/** A copy of `json` with the value at `path` replaced (or removed, for undefined). */
function withValue(json: object, path: string, value: unknown): object {
  const copy = structuredClone(json) as Record<string, unknown>;
  const keys = path.split('.');
  const parent = keys.slice(0, -1).reduce((o, key) => o[key] as Record<string, unknown>, copy);
  const last = keys[keys.length - 1] as string;
  if (value === undefined) delete parent[last];
  else parent[last] = value;
  return copy;
}

describe(compileMessageValidator.name, () => {
  it('finds no problem in well-formed calls', () => {
    expect(validateCall(accept)).toEqual([]);
    expect(validateCall({ type: 'REVIVE', frameworkId: 'fw-1' })).toEqual([]);
    expect(
      compileMessageValidator(AgentCall)({
        type: 'UPDATE',
        agentId: 'a-1',
        update: {
          frameworkId: 'fw-1',
          status: { taskId: 't', state: 'TASK_RUNNING', source: 'AGENT', timestamp: 1.5 },
        },
      }),
    ).toEqual([]);
  });

  it.each([
    ['a wrong type', 'name', 5, 'name must be a string'],
    ['a pattern', 'taskId', '../etc', 'taskId must be 1-128 characters of A-Z a-z 0-9 _ . : -'],
    ['a minimum', 'resources.cpus', -1, 'resources.cpus must not be less than 0'],
    ['a maximum', 'maxCompletionTimeSeconds', 1e9, 'must not be greater than 604800'],
    ['a length', 'name', 'n'.repeat(257), 'name must be shorter than or equal to 256 characters'],
    ['a list of values', 'container.type', 'vm', 'container.type must be one of the following'],
    ['an integer', 'inputs.files.0.size', 1.5, 'inputs.files.0.size must be an integer number'],
    ['an item of a list', 'command.arguments', ['ok', 7], 'command.arguments: each value in'],
    ['a required field', 'command', undefined, 'command should not be null or undefined'],
    ['null for a required field', 'resources', null, 'resources should not be null or undefined'],
    ['a nested non-object', 'source', 'main', 'source: nested property source must be either'],
    ['a string record', 'labels', { team: 1 }, 'labels must be an object of at most 100 string'],
    ['port ranges', 'resources.ports', [[2, 1]], 'resources.ports must be a list of [begin, end]'],
    [
      'an artifact name',
      'inputs.files.0.name',
      '../x',
      'is not an artifact name: it contains a ".."',
    ],
    ['an unknown field', 'container.privileged', true, 'property privileged should not exist'],
  ])('names the path of %s', (_kind, path, value, problem) => {
    const problems = validateTask(withValue(task, path, value));
    expect(problems.join('\n')).toContain(problem);
  });

  it('lists every problem of a message, each at its path', () => {
    const bad = withValue(withValue(accept, `${launched}.taskId`, '../etc'), 'frameworkId', '');
    expect(validateCall(withValue(bad, `${launched}.resources.cpus`, -1))).toEqual([
      'frameworkId must match /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/ regular expression',
      `${launched}.taskId must be 1-128 characters of A-Z a-z 0-9 _ . : -`,
      `${launched}.resources.cpus must not be less than 0`,
    ]);
  });

  it('checks the payload a call type needs, and only then', () => {
    expect(validateCall({ type: 'DECLINE', frameworkId: 'fw' })).toEqual([
      'decline should not be null or undefined',
    ]);
    // REVIVE takes no `decline`: a stray one is allowed and left unchecked, as it was.
    expect(validateCall({ type: 'REVIVE', frameworkId: 'fw', decline: 1 })).toEqual([]);
    expect(validateCall({ type: 'SUBSCRIBE' })).toEqual([
      'subscribe should not be null or undefined',
    ]);
  });

  it('takes null for an optional field as absent', () => {
    expect(validateTask(withValue(task, 'container', null))).toEqual([]);
    expect(validateTask(withValue(task, 'source.cacheKey', null))).toEqual([]);
  });

  it('keeps names Object.prototype has as ordinary keys of a record, and unknown elsewhere', () => {
    const environment = JSON.parse('{"__proto__":"a","constructor":"b","toString":"c"}') as object;
    expect(validateTask(withValue(task, 'command.environment', environment))).toEqual([]);
    const call = JSON.parse('{"type":"REVIVE","frameworkId":"fw","__proto__":1}') as object;
    expect(validateCall(call)).toEqual(['__proto__: property __proto__ should not exist']);
  });

  it('words each problem as class-validator does for the same bad value', () => {
    const paths = ['taskId', 'name', 'command.shell', 'resources.mem', 'container.image'];
    for (const path of paths) {
      for (const value of [null, 5, -1, 'x', true, {}, 'y'.repeat(600)]) {
        const json = withValue(task, path, value);
        const errors = validateSync(plainToInstance(TaskInfo, json), {
          whitelist: true,
          forbidNonWhitelisted: true,
        });
        expect(validateTask(json).sort(), `${path} = ${JSON.stringify(value)}`).toEqual(
          flatten(errors).sort(),
        );
      }
    }
  });

  it('refuses a class whose nested property does not name its class', () => {
    class Inner {
      @IsString()
      name!: string;
    }
    class Outer {
      @ValidateNested()
      inner!: Inner;
    }
    class Named {
      @Nested(() => Inner)
      inner!: Inner;
    }
    expect(() => compileMessageValidator(Outer)).toThrow(/Outer.inner: use @Nested/);
    // Asked again, it says the same, not that it lost a reference.
    expect(() => compileMessageValidator(Outer)).toThrow(/Outer.inner: use @Nested/);
    expect(compileMessageValidator(Named)({ inner: { name: 1 } })).toEqual([
      'inner.name must be a string',
    ]);
  });
});

/** class-validator's errors as `path: problem` lines, the way parseMessage wrote them before. */
function flatten(errors: readonly ValidationError[], parent = ''): string[] {
  return errors.flatMap((error) => {
    const path = parent === '' ? error.property : `${parent}.${error.property}`;
    const own = Object.values(error.constraints ?? {}).map((c) =>
      c.startsWith(error.property) ? `${parent === '' ? '' : `${parent}.`}${c}` : `${path}: ${c}`,
    );
    return [...own, ...flatten(error.children ?? [], path)];
  });
}
