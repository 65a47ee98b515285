import { describe, expect, it } from 'vitest';
import { AgentCall, AgentEvent } from './agent.messages';
import { MAX_RECONCILE_TASKS, SchedulerCall } from './scheduler.messages';
import { InvalidMessageError, parseMessage } from './validation';

const task = {
  taskId: 'build-1',
  name: 'build',
  command: { shell: true, value: 'make' },
  resources: { cpus: 1, mem: 128, disk: 0, ports: [] },
};

/** An ACCEPT call launching `taskInfos`, as a framework sends it. */
function acceptLaunching(taskInfos: object[]): object {
  return {
    type: 'ACCEPT',
    frameworkId: 'fw-1',
    accept: { offerIds: ['o-1'], operations: [{ type: 'LAUNCH', launch: { taskInfos } }] },
  };
}

/** What parsing `json` as a SchedulerCall throws, or undefined when it parses. */
function parseError(json: object): unknown {
  try {
    parseMessage(SchedulerCall, json);
  } catch (e) {
    return e;
  }
  return undefined;
}

describe(parseMessage.name, () => {
  it('accepts a well-formed ACCEPT with a LAUNCH', () => {
    const call = parseMessage(SchedulerCall, acceptLaunching([task]));
    expect(call.accept?.operations[0]?.launch.taskInfos[0]?.taskId).toBe('build-1');
  });

  it('names every invalid field with its path', () => {
    const error = parseError(
      acceptLaunching([{ ...task, taskId: '../etc', resources: { ...task.resources, cpus: -1 } }]),
    );
    expect(error).toBeInstanceOf(InvalidMessageError);
    const problems = (error as InvalidMessageError).problems.join('\n');
    expect(problems).toContain(
      'accept.operations.0.launch.taskInfos.0.taskId must be 1-128 characters',
    );
    expect(problems).toContain(
      'accept.operations.0.launch.taskInfos.0.resources.cpus must not be less than 0',
    );
  });

  it('requires the payload of the call type and the framework id', () => {
    expect(() => parseMessage(SchedulerCall, { type: 'DECLINE', frameworkId: 'fw' })).toThrow(
      /decline/,
    );
    expect(() => parseMessage(SchedulerCall, { type: 'REVIVE' })).toThrow(/frameworkId/);
    expect(() => parseMessage(SchedulerCall, { type: 'SUBSCRIBE' })).toThrow(/subscribe/);
  });

  it('refuses a RECONCILE naming more tasks than one may, saying how many and the limit', () => {
    const tasks = (n: number): { taskId: string }[] =>
      Array.from({ length: n }, (_, i) => ({ taskId: `t-${i}` }));
    const reconcile = (n: number): unknown => ({
      type: 'RECONCILE',
      frameworkId: 'fw',
      reconcile: { tasks: tasks(n) },
    });
    expect(() => parseMessage(SchedulerCall, reconcile(MAX_RECONCILE_TASKS))).not.toThrow();
    expect(() => parseMessage(SchedulerCall, reconcile(MAX_RECONCILE_TASKS + 1))).toThrow(
      `reconcile.tasks names ${MAX_RECONCILE_TASKS + 1} tasks: one RECONCILE may name at most ` +
        `${MAX_RECONCILE_TASKS}; send them in several calls`,
    );
  });

  it('refuses unknown fields and non-objects', () => {
    expect(() =>
      parseMessage(SchedulerCall, { type: 'REVIVE', frameworkId: 'fw', extra: 1 }),
    ).toThrow(/property extra should not exist/);
    expect(() => parseMessage(SchedulerCall, [])).toThrow(/expected a JSON object/);
  });

  it('validates what the master sends an agent', () => {
    expect(
      parseMessage(AgentEvent, { type: 'LAUNCH', launch: { frameworkId: 'fw', role: 'ci', task } })
        .launch?.task.name,
    ).toBe('build');
    expect(() =>
      parseMessage(AgentEvent, { type: 'LAUNCH', launch: { frameworkId: 'fw', role: 'ci' } }),
    ).toThrow(/launch.task/);
  });
});

describe(InvalidMessageError.name, () => {
  it('names the first 20 problems of a long list in its message, and counts the rest', () => {
    const badTasks = Array.from({ length: 1_000 }, () => ({ ...task, taskId: '../etc' }));
    const error = parseError(acceptLaunching(badTasks));
    expect(error).toBeInstanceOf(InvalidMessageError);
    const { message, problems } = error as InvalidMessageError;
    expect(problems).toHaveLength(1_000);
    expect(message).toContain('accept.operations.0.launch.taskInfos.19.taskId');
    expect(message).not.toContain('taskInfos.20.');
    expect(message).toMatch(/; and 980 more problems$/);
    expect(message.length).toBeLessThan(2_000);
  });
});

describe('what an agent says of itself and its tasks', () => {
  const subscribe = (resources: object, role: string): unknown => ({
    type: 'SUBSCRIBE',
    subscribe: {
      agentInfo: {
        id: 'agent-1',
        hostname: 'h',
        resources,
        attributes: {},
        containerizers: ['process'],
        version: '1',
      },
      tasks: [{ frameworkId: 'fw-1', role, taskInfo: task, state: 'TASK_RUNNING' }],
    },
  });
  const problems = (message: unknown): string => {
    try {
      parseMessage(AgentCall, message);
    } catch (error) {
      if (error instanceof InvalidMessageError) return error.problems.join('\n');
      throw error;
    }
    return '';
  };

  it('refuses amounts past any cluster, which would overflow the allocator, and roles that are no role', () => {
    const plenty = { cpus: 8, mem: 1e9, disk: 0, ports: [] };
    expect(problems(subscribe(plenty, 'ci'))).toBe('');
    expect(problems(subscribe({ ...plenty, mem: 1e303 }, 'ci'))).toContain(
      'subscribe.agentInfo.resources.mem must not be greater than 1000000000',
    );
    expect(problems(subscribe(plenty, ''))).toContain(
      'subscribe.tasks.0.role must be lowercase [a-z0-9_.-]',
    );
    expect(
      problems(
        subscribe(
          {
            ...plenty,
            ports: [
              [31000, 31005],
              [31005, 31009],
            ],
          },
          'ci',
        ),
      ),
    ).toContain(
      'subscribe.agentInfo.resources.ports must be a list of [begin, end] port ranges, none overlapping another',
    );
  });
});

describe('a task environment with names Object.prototype has', () => {
  it('keeps constructor, __proto__, toString and hasOwnProperty as plain variables', () => {
    const environment = JSON.parse(
      '{"constructor":"a","__proto__":"b","toString":"c","hasOwnProperty":"d","PATH":"/bin"}',
    ) as Record<string, string>;
    const event = parseMessage(AgentEvent, {
      type: 'LAUNCH',
      launch: {
        frameworkId: 'fw',
        role: 'ci',
        task: { ...task, command: { ...task.command, environment } },
      },
    });
    const parsed = event.launch?.task.command.environment ?? {};
    const sorted = (record: object) =>
      Object.entries(record).sort(([a], [b]) => a.localeCompare(b));
    expect(sorted(parsed)).toEqual(sorted(environment));
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
  });

  it('still refuses such a name where a message has fixed fields', () => {
    expect(() =>
      parseMessage(
        SchedulerCall,
        JSON.parse('{"type":"REVIVE","frameworkId":"fw","constructor":1}'),
      ),
    ).toThrow(/property constructor should not exist/);
  });
});
