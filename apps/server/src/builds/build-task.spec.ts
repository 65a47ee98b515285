import { parseMessage, TaskInfo } from '@kiln/contracts';
import type { PlanJob } from '@kiln/pipeline';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { buildTask, newTaskId, type BuildContext } from './build-task';

const NONCE = 'n0nce_-XYZ';

function context(
  plan: Partial<PlanJob> = {},
  overrides: Partial<Omit<BuildContext, 'job'>> = {},
): BuildContext {
  return {
    repository: { id: 'repo-1', fullName: 'acme/widget' },
    run: {
      id: 'run-1',
      number: 7,
      event: 'push',
      ref: 'refs/heads/main',
      sha: 'c'.repeat(40),
      branch: 'main',
    },
    job: {
      id: 'job-1',
      attempt: 2,
      plan: {
        key: 'test',
        name: 'test',
        steps: [{ name: 'one', run: 'echo one' }],
        env: {},
        resources: { cpus: 1.5, mem: 512 },
        needs: [],
        timeoutSeconds: 300,
        retry: 0,
        allowFailure: false,
        secrets: [],
        artifacts: [],
        ...plan,
      },
    },
    secrets: {},
    taskId: 'job-job-1-2-abcdef',
    logSink: { url: 'http://kiln.test/api/v1/tasks/job-job-1-2-abcdef/logs', token: 'tok' },
    source: {
      url: 'http://kiln.test/api/v1/tasks/job-job-1-2-abcdef/source.git',
      packUrl: 'http://kiln.test/api/v1/tasks/job-job-1-2-abcdef/source.pack',
      token: 'tok',
    },
    artifactSink: {
      url: 'http://kiln.test/api/v1/tasks/job-job-1-2-abcdef/artifacts',
      token: 'tok',
    },
    stepNonce: NONCE,
    ...overrides,
  };
}

/** Runs the task's command as the agent does: `/bin/sh -c` with the task's environment. */
function run(task: TaskInfo): { output: string; code: number | null } {
  expect(task.command.shell).toBe(true);
  const result = spawnSync('/bin/sh', ['-c', task.command.value], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...task.command.environment },
    encoding: 'utf8',
  });
  return { output: result.stdout, code: result.status };
}

const steps = (...runs: string[]): PlanJob['steps'] =>
  runs.map((text, idx) => ({ name: `step ${idx}`, run: text }));

describe(buildTask.name, () => {
  it('runs the steps in order between markers and stops at the first failing one', () => {
    const task = buildTask(context({ steps: steps('echo one', 'exit 3', 'echo never') }));

    expect(run(task)).toEqual({
      output: [
        `::kiln-step-start ${NONCE} 0`,
        'one',
        `::kiln-step-end ${NONCE} 0 0`,
        `::kiln-step-start ${NONCE} 1`,
        `::kiln-step-end ${NONCE} 1 3`,
        '',
      ].join('\n'),
      code: 3,
    });
  });

  it('exits 0 after every step succeeded, with stderr in the output', () => {
    const task = buildTask(context({ steps: steps('echo out; echo err >&2', 'true') }));

    const { output, code } = run(task);

    expect(code).toBe(0);
    expect(output).toContain('out\nerr\n');
    expect(output).toContain(`::kiln-step-end ${NONCE} 1 0`);
  });

  it('stops a step at its first failing command (each step is sh -e)', () => {
    const task = buildTask(context({ steps: steps('false\necho after') }));

    const { output, code } = run(task);

    expect(code).toBe(1);
    expect(output).not.toContain('after');
  });

  it('prints the markers through its own opening of a piped output, which no step holds', () => {
    // A step makes its output non-blocking (so that a full pipe fails writes through it), then
    // lists the script's descriptors; the next step looks for descriptor 3.
    const task = buildTask(
      context({
        steps: steps(
          "perl -MFcntl -e 'fcntl(STDOUT, F_SETFL, fcntl(STDOUT, F_GETFL, 0) | O_NONBLOCK) or die'\n" +
            'for fd in /proc/$PPID/fd/*; do n=${fd##*/}; ' +
            'echo "fd $n $(readlink "$fd") $(grep flags "/proc/$PPID/fdinfo/$n")"; done',
          'if { true >&3; } 2>/dev/null; then echo step-has-3; else echo step-has-no-3; fi',
        ),
      }),
    );
    // Output to a pipe, as under runc and Docker.
    const result = spawnSync('/bin/sh', ['-c', '/bin/sh -c "$KILN_SCRIPT" | cat'], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        ...task.command.environment,
        KILN_SCRIPT: task.command.value,
      },
      encoding: 'utf8',
    });
    expect(result.status).toBe(0);
    const fds = [...result.stdout.matchAll(/^fd (\d+) (pipe:\[\d+\]) flags:\s+([0-7]+)$/gm)].map(
      ([, fd, pipe, flags]) => ({ fd: Number(fd), pipe, flags: parseInt(flags!, 8) }),
    );
    const O_NONBLOCK = 0o4000;
    const output = fds.find((d) => d.fd === 1);
    expect(output?.flags).toBe(output!.flags | O_NONBLOCK);
    // The script's own opening of the same pipe, which the step could not make non-blocking.
    const own = fds.filter((d) => d.pipe === output?.pipe && d.fd > 2);
    expect(own.length).toBeGreaterThan(0);
    for (const d of own) expect(d.flags & O_NONBLOCK).toBe(0);
    expect(result.stdout).toContain('\nstep-has-no-3\n');
    expect(result.stdout).toContain(`::kiln-step-end ${NONCE} 1 0\n`);
  });

  it('prints the true end of a step that signals the script, then ends the job', () => {
    const task = buildTask(
      context({ steps: steps('kill -INT $PPID; sleep 0.2; exit 4', 'echo never') }),
    );

    expect(run(task)).toEqual({
      output: [`::kiln-step-start ${NONCE} 0`, `::kiln-step-end ${NONCE} 0 4`, ''].join('\n'),
      code: 143,
    });
  });

  it('fails the job when a step keeps the script from printing a marker', () => {
    // The last step lowers the script's descriptors below what printing its end takes.
    const task = buildTask(context({ steps: steps('prlimit --pid $PPID --nofile=5: && exit 0') }));

    const { output, code } = run(task);

    expect(output).not.toContain(`::kiln-step-end ${NONCE} 0`);
    expect(code).toBe(125);
  });

  it('passes step scripts as environment variables, never inside the script text', () => {
    const tricky = `printf '%s\\n' "it's \\"quoted\\" \\$HOME"; echo '$(id)' \`echo x\``;
    const task = buildTask(context({ steps: steps(tricky, 'echo second') }));

    expect(task.command.value).not.toContain(tricky);
    expect(task.command.value).not.toContain('quoted');
    expect(task.command.value).not.toContain('echo second');
    expect(task.command.environment).toMatchObject({
      KILN_STEP_0: tricky,
      KILN_STEP_1: 'echo second',
    });
    const { output, code } = run(task);
    expect(code).toBe(0);
    expect(output).toContain(`\nit's "quoted" $HOME\n$(id) x\n`);
    expect(output).toContain('\nsecond\n');
  });

  it('runs in a Docker container only when the job has an image', () => {
    expect(buildTask(context({ image: 'node:22' })).container).toEqual({
      type: 'docker',
      image: 'node:22',
    });
    expect(buildTask(context()).container).toBeUndefined();
    expect(buildTask(context())).not.toHaveProperty('container');
  });

  it("fetches the commit by id from the server's mirror, with the task's token", () => {
    expect(buildTask(context()).source).toEqual({
      url: 'http://kiln.test/api/v1/tasks/job-job-1-2-abcdef/source.git',
      packUrl: 'http://kiln.test/api/v1/tasks/job-job-1-2-abcdef/source.pack',
      sha: 'c'.repeat(40),
      username: 'kiln-task',
      password: 'tok',
      cacheKey: 'repo-1',
    });
  });

  it('puts env and secrets into the environment, and secrets in the clear for the steps', () => {
    const task = buildTask(
      context(
        { env: { MODE: 'ci', SHARED: 'from-env' }, steps: steps('echo "$API_KEY"') },
        { secrets: { API_KEY: 'hunter2', SHARED: 'from-secret' } },
      ),
    );

    expect(task.command.environment).toMatchObject({
      MODE: 'ci',
      API_KEY: 'hunter2',
      SHARED: 'from-secret',
    });
    expect(task.command.value).not.toContain('hunter2');
    expect(run(task).output).toContain('\nhunter2\n');
  });

  it('describes the run to the build with KILN_* variables', () => {
    const task = buildTask(
      context({}, { run: { ...context().run, pullRequest: 12, event: 'pull_request' } }),
    );

    expect(task.command.environment).toMatchObject({
      CI: 'true',
      KILN: 'true',
      KILN_REPOSITORY: 'acme/widget',
      KILN_RUN_ID: 'run-1',
      KILN_RUN_NUMBER: '7',
      KILN_JOB: 'test',
      KILN_JOB_ID: 'job-1',
      KILN_JOB_ATTEMPT: '2',
      KILN_EVENT: 'pull_request',
      KILN_REF: 'refs/heads/main',
      KILN_COMMIT_SHA: 'c'.repeat(40),
      KILN_BRANCH: 'main',
      KILN_PULL_REQUEST: '12',
    });
    expect(task.command.environment).not.toHaveProperty('KILN_TAG');
  });

  it("sizes, names and limits the task from the job's plan", () => {
    const task = buildTask(context());

    expect(task).toMatchObject({
      taskId: 'job-job-1-2-abcdef',
      name: 'acme/widget #7 test',
      resources: { cpus: 1.5, mem: 512, disk: 0, ports: [] },
      maxCompletionTimeSeconds: 300,
      labels: { 'kiln.run': 'run-1', 'kiln.job': 'job-1' },
      logSink: { url: 'http://kiln.test/api/v1/tasks/job-job-1-2-abcdef/logs', token: 'tok' },
    });
  });

  it('asks for artifacts only when the plan keeps some', () => {
    expect(buildTask(context()).artifacts).toBeUndefined();
    expect(buildTask(context({ artifacts: ['out/**', 'a.txt'] })).artifacts).toEqual({
      patterns: ['out/**', 'a.txt'],
      url: 'http://kiln.test/api/v1/tasks/job-job-1-2-abcdef/artifacts',
      token: 'tok',
    });
  });

  it('tells a promote run its environment and the run it promotes, over any job env', () => {
    const promotion = { environment: 'staging', promotedRun: { id: 'run-0', number: 5 } };
    const task = buildTask(
      context(
        { env: { KILN_ENVIRONMENT: 'production' } },
        { run: { ...context().run, event: 'promote' }, promotion },
      ),
    );

    expect(task.command.environment).toMatchObject({
      KILN_EVENT: 'promote',
      KILN_ENVIRONMENT: 'staging',
      KILN_PROMOTED_RUN: '5',
      KILN_PROMOTED_RUN_ID: 'run-0',
    });
    const plain = buildTask(context()).command.environment;
    for (const name of ['KILN_ENVIRONMENT', 'KILN_PROMOTED_RUN', 'KILN_PROMOTED_RUN_ID']) {
      expect(plain).not.toHaveProperty(name);
    }
  });

  it('hands the agent the artifact inputs when there are files, as a valid task', () => {
    const file = {
      name: 'dist/app.tgz',
      sha256: 'ab'.repeat(32),
      size: 1234,
      url: 'http://kiln.test/api/v1/runs/run-0/artifacts/dist/app.tgz',
    };
    const task = buildTask(context({}, { inputs: { token: 'in-tok', files: [file] } }));

    expect(task.inputs).toEqual({ token: 'in-tok', files: [file] });
    expect(parseMessage(TaskInfo, JSON.parse(JSON.stringify(task))).inputs).toEqual(task.inputs);
    expect(buildTask(context({}, { inputs: { token: 'in-tok', files: [] } }))).not.toHaveProperty(
      'inputs',
    );
    expect(buildTask(context())).not.toHaveProperty('inputs');
  });

  it('gives every launch of an attempt its own task id', () => {
    expect(newTaskId('j1', 2, 'aaa')).toBe('job-j1-2-aaa');
    expect(newTaskId('j1', 2, 'bbb')).not.toBe(newTaskId('j1', 2, 'aaa'));
  });
});
