import { describe, expect, it } from 'vitest';
import { compilePipeline } from './compile';
import { PipelineConfigError, type PipelineProblem } from './errors';
import type { ExecutionPlan, TriggerContext } from './types';

const push: TriggerContext = { event: 'push', branch: 'main' };

function compile(source: string, context: TriggerContext = push): ExecutionPlan {
  const result = compilePipeline(source, context);
  if ('skippedPipeline' in result) throw new Error(`pipeline skipped: ${result.skippedPipeline}`);
  return result;
}

function problemsOf(source: string): string[] {
  try {
    compilePipeline(source, push);
  } catch (error) {
    if (error instanceof PipelineConfigError) {
      return error.problems.map(
        (p: PipelineProblem) => `${p.line}:${p.column} ${p.path}: ${p.message}`,
      );
    }
    throw error;
  }
  throw new Error('expected a PipelineConfigError');
}

const example = `when:
  event: [push, pull_request]
  branch: [main, 'release/*']
env:
  NODE_ENV: test
  SHARED: pipeline
jobs:
  build:
    image: node:20
    steps:
      - run: npm ci
      - name: test
        run: npm test
    env: { CI: 'true', SHARED: job, node: job }
    resources: { cpus: 2, mem: 2048 }
    needs: [lint]
    matrix: { node: ['18', 20] }
    timeout: 1h30m
    retry: 2
    allow_failure: true
    secrets: [NPM_TOKEN]
    artifacts: ['dist/**', 'coverage/lcov.info']
  lint:
    steps: [{ run: npm run lint }]
`;

describe(compilePipeline.name, () => {
  describe('a valid pipeline', () => {
    it('compiles steps, merged env, matrix expansions and needs in topological order', () => {
      const plan = compile(example);
      expect(plan.skipped).toEqual([]);
      expect(plan.jobs.map((job) => job.key)).toEqual([
        'lint',
        'build (node=18)',
        'build (node=20)',
      ]);
      const [, build18] = plan.jobs;
      expect(build18).toEqual({
        key: 'build (node=18)',
        name: 'build',
        matrix: { node: '18' },
        image: 'node:20',
        steps: [
          { name: 'npm ci', run: 'npm ci' },
          { name: 'test', run: 'npm test' },
        ],
        // pipeline < job < matrix
        env: { NODE_ENV: 'test', SHARED: 'job', CI: 'true', node: '18' },
        resources: { cpus: 2, mem: 2048 },
        needs: ['lint'],
        timeoutSeconds: 5400,
        retry: 2,
        allowFailure: true,
        secrets: ['NPM_TOKEN'],
        artifacts: ['dist/**', 'coverage/lcov.info'],
      });
    });

    it('applies the defaults: no image, 1 cpu, 1024 MiB, 60m, no retry', () => {
      const [lint] = compile('jobs:\n  lint:\n    steps: [{ run: npm run lint }]\n').jobs;
      expect(lint).toEqual({
        key: 'lint',
        name: 'lint',
        steps: [{ name: 'npm run lint', run: 'npm run lint' }],
        env: {},
        resources: { cpus: 1, mem: 1024 },
        needs: [],
        timeoutSeconds: 3600,
        retry: 0,
        allowFailure: false,
        secrets: [],
        artifacts: [],
      });
    });

    it('keeps numbers as written when they become env values (1.10 stays 1.10)', () => {
      const [job] = compile(
        'env: { V: 1.10, B: true }\njobs:\n  a:\n    steps: [{ run: x }]\n',
      ).jobs;
      expect(job?.env).toEqual({ V: '1.10', B: 'true' });
    });

    it('orders a DAG so every job follows what it needs, keeping file order for ties', () => {
      const plan = compile(`jobs:
  deploy: { needs: [b, c], steps: [{ run: x }] }
  c: { needs: [a], steps: [{ run: x }] }
  b: { needs: [a], steps: [{ run: x }] }
  a: { steps: [{ run: x }] }
`);
      expect(plan.jobs.map((job) => job.key)).toEqual(['a', 'c', 'b', 'deploy']);
    });
  });

  describe('matrix', () => {
    it('expands the cartesian product, first variable slowest, and needs all expansions', () => {
      const plan = compile(`jobs:
  build:
    matrix: { node: [18, 20], os: [linux, mac] }
    steps: [{ run: x }]
  publish: { needs: [build], steps: [{ run: x }] }
`);
      expect(plan.jobs.map((job) => job.key)).toEqual([
        'build (node=18, os=linux)',
        'build (node=18, os=mac)',
        'build (node=20, os=linux)',
        'build (node=20, os=mac)',
        'publish',
      ]);
      expect(plan.jobs[4]?.needs).toEqual(plan.jobs.slice(0, 4).map((job) => job.key));
      expect(plan.jobs[3]?.matrix).toEqual({ node: '20', os: 'mac' });
    });

    it('rejects a job expanding to more than 50 jobs', () => {
      expect(
        problemsOf(`jobs:
  a:
    steps: [{ run: x }]
    matrix: { n: [1, 2, 3, 4, 5, 6, 7, 8], m: [1, 2, 3, 4, 5, 6, 7] }
`),
      ).toEqual(['4:13 jobs.a.matrix: expands to 56 jobs, more than the limit of 50 per job']);
    });

    it('rejects a pipeline expanding to more than 200 jobs', () => {
      const values = Array.from({ length: 50 }, (_, i) => i).join(', ');
      const jobs = ['a', 'b', 'c', 'd', 'e']
        .map((name) => `  ${name}: { matrix: { n: [${values}] }, steps: [{ run: x }] }`)
        .join('\n');
      expect(problemsOf(`jobs:\n${jobs}\n`)).toEqual([
        '1:1 jobs: the pipeline expands to 250 jobs, more than the limit of 200',
      ]);
    });

    it('rejects empty, non-scalar and duplicate matrix values', () => {
      expect(
        problemsOf(`jobs:
  a:
    steps: [{ run: x }]
    matrix:
      os: []
      node: [18, { x: 1 }, 18]
`),
      ).toEqual([
        '5:11 jobs.a.matrix.os: must be a non-empty list of strings, numbers or booleans',
        '6:18 jobs.a.matrix.node: must be a string, number or boolean',
        '6:28 jobs.a.matrix.node: duplicate value "18"',
      ]);
    });
  });

  describe('errors', () => {
    it('reports the example unknown need at its line and column', () => {
      try {
        compilePipeline(
          'jobs:\n  lint:\n    steps: [{ run: x }]\n  build:\n    steps:\n      - run: x\n    needs: [lnt]\n',
          push,
        );
        expect.fail('expected an error');
      } catch (error) {
        expect(error).toBeInstanceOf(PipelineConfigError);
        expect((error as Error).message).toContain(
          '.kiln.yml:7:13: jobs.build.needs: unknown job "lnt"',
        );
      }
    });

    it('names the file it was given in the message', () => {
      expect(() => compilePipeline('jobs: 1\n', push, 'ci/.kiln.yml')).toThrow(
        'ci/.kiln.yml:1:7: jobs: must be a mapping',
      );
    });

    it('reports every problem at once, in file order', () => {
      expect(
        problemsOf(`jobs:
  build:
    steps:
      - run: npm ci
      - npm test
      - name: ''
        run: ''
    foo: 1
    needs: [build]
    resources: { cpus: 0, mem: 99999999 }
    retry: 9
    allow_failure: yes
    image: 3
  Bad:
    steps: []
  nosteps:
    image: x
`),
      ).toEqual([
        '5:9 jobs.build.steps: item 2 must be a mapping',
        '6:15 jobs.build.steps[2].name: must not be empty',
        '7:14 jobs.build.steps[2].run: must not be empty',
        '8:5 jobs.build.foo: unknown key "foo"',
        '9:13 jobs.build.needs: job "build" cannot need itself',
        '10:24 jobs.build.resources.cpus: must be positive',
        '10:32 jobs.build.resources.mem: must be at most 262144 (MiB)',
        '11:12 jobs.build.retry: must be at most 5',
        '12:20 jobs.build.allow_failure: must be true or false',
        '13:12 jobs.build.image: must be a string',
        '14:3 jobs.Bad: invalid job name "Bad": use lowercase letters, digits, "-" and "_", starting with a letter or digit, at most 63 characters',
        '15:12 jobs.Bad.steps: must have at least one step',
        '16:3 jobs.nosteps.steps: is required',
      ]);
    });

    it('rejects unknown keys at the top level and in when', () => {
      expect(problemsOf('jobz: 1\nwhen: { events: [push] }\n')).toEqual([
        '1:1 jobz: unknown key "jobz"',
        '1:1 jobs: is required',
        '2:9 when.events: unknown key "events"',
      ]);
    });

    it('rejects a missing or empty jobs mapping and a file that is not a mapping', () => {
      expect(problemsOf('jobs: {}\n')).toEqual(['1:7 jobs: must define at least one job']);
      expect(problemsOf('')).toEqual(['1:1 : the file must be a mapping with a `jobs` key']);
      expect(problemsOf('- a\n')).toEqual(['1:1 : the file must be a mapping with a `jobs` key']);
    });

    it('reports YAML syntax errors with their position', () => {
      expect(problemsOf('jobs:\n  a: { steps: [{ run: x }]\n  b: 1\n')[0]).toMatch(/^3:\d+ : /);
      expect(problemsOf('jobs:\n  a: 1\n  a: 2\n')).toEqual(['3:3 : Map keys must be unique']);
    });

    it('refuses a second YAML document, where the first is read', () => {
      expect(problemsOf('jobs:\n  a:\n    steps: [{ run: x }]\n---\njobs: {}\n')).toEqual([
        '4:1 : a second YAML document (after `---`): the file must hold one',
      ]);
    });

    it('reports a cycle as a path at the need that closes it', () => {
      expect(
        problemsOf(`jobs:
  a: { needs: b, steps: [{ run: x }] }
  b: { needs: [c], steps: [{ run: x }] }
  c: { needs: [a], steps: [{ run: x }] }
`),
      ).toEqual(['4:16 jobs.c.needs: cycle: a → b → c → a']);
    });

    it('rejects bad env and secret names and non-scalar env values', () => {
      expect(
        problemsOf(`env:
  1X: a
  OK: [1]
jobs:
  a:
    steps: [{ run: x }]
    env: { 'A-B': x, N: ~ }
    secrets: [NPM_TOKEN, bad-name]
`),
      ).toEqual([
        '2:3 env.1X: invalid variable name "1X"',
        '3:7 env.OK: must be a string, number or boolean',
        '7:12 jobs.a.env.A-B: invalid variable name "A-B"',
        '7:25 jobs.a.env.N: must be a string, number or boolean',
        '8:26 jobs.a.secrets: invalid secret name "bad-name"',
      ]);
    });

    it('rejects absolute artifact paths and ".." segments', () => {
      expect(
        problemsOf(`jobs:
  a:
    steps: [{ run: x }]
    artifacts: [/etc/passwd, 'dist/../..', 'C:\\x', ok/**]
`),
      ).toEqual([
        '4:17 jobs.a.artifacts: "/etc/passwd" must be relative to the workspace',
        '4:30 jobs.a.artifacts: "dist/../.." must not contain ".." segments',
        '4:44 jobs.a.artifacts: "C:\\x" must be relative to the workspace',
      ]);
    });

    it('rejects unknown events in when', () => {
      expect(
        problemsOf('when: { event: [push, merge] }\njobs:\n  a: { steps: [{ run: x }] }\n'),
      ).toEqual([
        '1:23 when.event: unknown event "merge", expected one of push, pull_request, tag, manual, cron, promote',
      ]);
    });
  });

  describe('timeout', () => {
    const withTimeout = (timeout: string) =>
      `jobs:\n  a:\n    steps: [{ run: x }]\n    timeout: ${timeout}\n`;

    it.each([
      ['90s', 90],
      ['5m', 300],
      ['1h30m', 5400],
      ['1h2m3s', 3723],
      ['24h', 86400],
    ])('parses %s as %i seconds', (text, seconds) => {
      expect(compile(withTimeout(text)).jobs[0]?.timeoutSeconds).toBe(seconds);
    });

    it.each([
      ['30', 'invalid duration "30", expected e.g. 90s, 5m or 1h30m'],
      ['5 min', 'invalid duration "5 min", expected e.g. 90s, 5m or 1h30m'],
      ['0s', 'must be longer than 0s'],
      ['25h', '"25h" is longer than the limit of 24h'],
    ])('rejects %s with the offending text', (text, message) => {
      expect(problemsOf(withTimeout(text))).toEqual([`4:14 jobs.a.timeout: ${message}`]);
    });
  });

  describe('when', () => {
    const pipeline = `jobs:
  lint: { steps: [{ run: x }] }
  test: { steps: [{ run: x }], when: { event: [pull_request] } }
  release: { steps: [{ run: x }], when: { branch: ['release/*', 'hotfix/**'] } }
  docs: { steps: [{ run: x }], when: { path: ['docs/**', '*.md'] } }
  deploy: { steps: [{ run: x }], needs: [release], when: { environment: [staging] } }
  notify: { steps: [{ run: x }], needs: [deploy] }
`;
    const keys = (plan: ExecutionPlan) => plan.jobs.map((job) => job.key);

    it('matches events, branch globs, changed paths and environments', () => {
      const plan = compile(pipeline, {
        event: 'push',
        branch: 'release/1.2',
        changedFiles: ['src/a.ts', 'docs/guide/intro.md'],
        environment: 'staging',
      });
      expect(keys(plan)).toEqual(['lint', 'release', 'docs', 'deploy', 'notify']);
      expect(plan.skipped).toEqual([
        { key: 'test', reason: 'event "push" is not in [pull_request]', needs: [] },
      ]);
    });

    it('keeps "*" within one branch segment while "**" crosses segments', () => {
      const nested = compile(pipeline, {
        event: 'push',
        branch: 'release/1.2/rc',
        environment: 'staging',
      });
      expect(nested.skipped[1]).toEqual({
        key: 'release',
        reason: 'branch "release/1.2/rc" matches none of [release/*, hotfix/**]',
        needs: [],
      });
      expect(
        keys(compile(pipeline, { event: 'push', branch: 'hotfix/a/b', environment: 'staging' })),
      ).toContain('release');
    });

    it('lets path filters pass when the changed files are unknown, and skips when none match', () => {
      expect(keys(compile(pipeline, push))).toContain('docs');
      const plan = compile(pipeline, { ...push, changedFiles: ['src/a.ts'] });
      expect(plan.skipped).toContainEqual({
        key: 'docs',
        reason: 'no changed file matches [docs/**, *.md]',
        needs: [],
      });
      expect(keys(compile(pipeline, { ...push, changedFiles: ['README.md'] }))).toContain('docs');
    });

    // The budget is about a second of work here: a loaded machine takes longer to spend it.
    it('refuses a file whose path globs would take more than their budget to match', () => {
      // Every glob a run of `*a`: matched against long names of `a`s, each keeps hundreds of ways
      // open at every character. Without a budget this took minutes of the compile thread.
      const glob = `${'*a'.repeat(300)}b`;
      const source = [
        'jobs:',
        '  a:',
        '    steps: [{ run: x }]',
        '    when:',
        '      path:',
        ...Array.from({ length: 20 }, () => `        - "${glob}"`),
        '',
      ].join('\n');
      const changedFiles = Array.from({ length: 200 }, () => 'a'.repeat(1_000));
      let thrown: unknown;
      try {
        compilePipeline(source, { ...push, changedFiles });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(PipelineConfigError);
      expect((thrown as PipelineConfigError).problems).toEqual([
        {
          line: 6,
          column: 9,
          path: 'jobs.a.when.path',
          message: expect.stringMatching(
            /^matching the `when` globs of this file took more than 33554432 steps \(the push changed 200 files\)/,
          ) as string,
        },
      ]);
    }, 60_000);

    it('skips the jobs that need a skipped job, naming it and keeping what each needs', () => {
      const plan = compile(pipeline, { event: 'push', branch: 'release/2', environment: 'prod' });
      expect(plan.skipped).toEqual([
        { key: 'test', reason: 'event "push" is not in [pull_request]', needs: [] },
        { key: 'deploy', reason: 'environment "prod" is not in [staging]', needs: ['release'] },
        { key: 'notify', reason: 'needs skipped job "deploy"', needs: ['deploy'] },
      ]);
    });

    it('skips every expansion of a matrix job', () => {
      const plan = compile(
        'jobs:\n  a: { matrix: { n: [1, 2] }, when: { event: tag }, steps: [{ run: x }] }\n',
      );
      expect(plan).toEqual({
        jobs: [],
        skipped: [
          { key: 'a (n=1)', reason: 'event "push" is not in [tag]', needs: [] },
          { key: 'a (n=2)', reason: 'event "push" is not in [tag]', needs: [] },
        ],
      });
    });

    it('skips the whole pipeline when its own when does not match', () => {
      const source = `when: { event: [push], branch: [main] }\njobs:\n  a: { steps: [{ run: x }] }\n`;
      expect(compilePipeline(source, { event: 'push', branch: 'dev' })).toEqual({
        skippedPipeline: 'pipeline when: branch "dev" matches none of [main]',
      });
      expect(compilePipeline(source, { event: 'tag', tag: 'v1' })).toEqual({
        skippedPipeline: 'pipeline when: event "tag" is not in [push]',
      });
      expect(compile(source).jobs).toHaveLength(1);
    });
  });

  describe('promote', () => {
    const pipeline = `jobs:
  build:
    matrix: { arch: [amd64, arm64] }
    steps: [{ run: make }]
    artifacts: [dist/**]
  test: { needs: [build], steps: [{ run: make test }] }
  lint: { when: { branch: [main] }, steps: [{ run: make lint }] }
  deploy-staging:
    needs: [build, test]
    when: { event: promote, environment: staging }
    steps: [{ run: ./deploy staging }]
  deploy-production:
    needs: [build]
    when: { event: [push, promote], environment: [production] }
    steps: [{ run: ./deploy production }]
  smoke: { needs: [deploy-production], when: { event: promote }, steps: [{ run: ./smoke }] }
`;
    const promote = (environment: string): TriggerContext => ({
      event: 'promote',
      branch: 'main',
      environment,
    });

    it('runs a deploy job alone on a promotion to its environment, its needs on builds met', () => {
      const plan = compile(pipeline, promote('staging'));
      expect(plan.jobs.map((job) => job.key)).toEqual(['deploy-staging']);
      expect(plan.jobs[0]?.needs).toEqual([]);
    });

    it('keeps the needs the promoted run built apart, for the graph, not to wait on', () => {
      const plan = compile(pipeline, promote('staging'));
      expect(plan.jobs[0]?.promotedNeeds).toEqual([
        'build (arch=amd64)',
        'build (arch=arm64)',
        'test',
      ]);
      expect(plan.skipped.find((s) => s.key === 'test')?.needs).toEqual([
        'build (arch=amd64)',
        'build (arch=arm64)',
      ]);
    });

    it('skips a promote job for another environment with the reason, and the jobs needing it', () => {
      const plan = compile(pipeline, promote('staging'));
      expect(plan.skipped).toContainEqual({
        key: 'deploy-production',
        reason: 'environment "staging" is not in [production]',
        needs: ['build (arch=amd64)', 'build (arch=arm64)'],
      });
      expect(plan.skipped).toContainEqual({
        key: 'smoke',
        reason: 'needs skipped job "deploy-production"',
        needs: ['deploy-production'],
      });
    });

    it('keeps a need on another promote job that takes part', () => {
      const plan = compile(pipeline, promote('production'));
      expect(plan.jobs.map((job) => ({ key: job.key, needs: job.needs }))).toEqual([
        { key: 'deploy-production', needs: [] },
        { key: 'smoke', needs: ['deploy-production'] },
      ]);
    });

    it('skips every job not asking for promote explicitly as built in the promoted run', () => {
      const plan = compile(pipeline, promote('staging'));
      const built = plan.skipped.filter((s) => s.reason === 'built in the promoted run');
      // No `when`, a `when` without `event` and every matrix expansion alike.
      expect(built.map((s) => s.key)).toEqual([
        'build (arch=amd64)',
        'build (arch=arm64)',
        'test',
        'lint',
      ]);
      expect(plan.skipped).toHaveLength(6);
    });

    it('leaves push runs as they were: promote-only jobs skipped, the rest needing builds', () => {
      const plan = compile(pipeline, { event: 'push', branch: 'main', environment: 'production' });
      expect(plan.jobs.map((job) => ({ key: job.key, needs: job.needs }))).toEqual([
        { key: 'build (arch=amd64)', needs: [] },
        { key: 'build (arch=arm64)', needs: [] },
        { key: 'test', needs: ['build (arch=amd64)', 'build (arch=arm64)'] },
        { key: 'lint', needs: [] },
        { key: 'deploy-production', needs: ['build (arch=amd64)', 'build (arch=arm64)'] },
      ]);
      expect(plan.skipped).toEqual([
        {
          key: 'deploy-staging',
          reason: 'event "push" is not in [promote]',
          needs: ['build (arch=amd64)', 'build (arch=arm64)', 'test'],
        },
        {
          key: 'smoke',
          reason: 'event "push" is not in [promote]',
          needs: ['deploy-production'],
        },
      ]);
    });
  });
});

describe('hostile files', () => {
  describe('names Object.prototype already has', () => {
    it('compiles a job named constructor and variables named like prototype members', () => {
      const plan = compile(`env:
  constructor: a
  __proto__: b
  toString: c
jobs:
  constructor:
    env: { hasOwnProperty: d, valueOf: e }
    matrix: { isPrototypeOf: [f, g] }
    steps: [{ run: x }]
  after:
    needs: [constructor]
    steps: [{ run: x }]
`);
      expect(plan.jobs.map((job) => job.key)).toEqual([
        'constructor (isPrototypeOf=f)',
        'constructor (isPrototypeOf=g)',
        'after',
      ]);
      const env = plan.jobs[0]?.env ?? {};
      expect(Object.getPrototypeOf(env)).toBe(Object.prototype);
      expect(Object.entries(env)).toEqual([
        ['constructor', 'a'],
        ['__proto__', 'b'],
        ['toString', 'c'],
        ['hasOwnProperty', 'd'],
        ['valueOf', 'e'],
        ['isPrototypeOf', 'f'],
      ]);
      expect(plan.jobs[2]?.needs).toEqual(plan.jobs.slice(0, 2).map((job) => job.key));
    });

    it('reports such a name as an unknown key where a fixed key is expected', () => {
      expect(
        problemsOf(`when: { constructor: x }
jobs:
  a:
    toString: y
    resources: { __proto__: 1 }
    steps: [{ run: x, valueOf: z }]
`),
      ).toEqual([
        '1:9 when.constructor: unknown key "constructor"',
        '4:5 jobs.a.toString: unknown key "toString"',
        '5:18 jobs.a.resources.__proto__: unknown key "__proto__"',
        '6:23 jobs.a.steps[0].valueOf: unknown key "valueOf"',
      ]);
    });
  });

  describe('nesting and aliases', () => {
    it('reports flow collections nested thousands deep at the one that goes too deep', () => {
      const deep = `jobs:\n  a:\n    steps: [{ run: x }]\n    env: ${'['.repeat(3000)}${']'.repeat(3000)}\n`;
      // The document's mapping is level 1, jobs' 2, a's 3: the 30th "[" (column 39) is level 33.
      expect(problemsOf(deep)).toEqual(['4:39 : nested deeper than 32 levels']);
    });

    it('reports block lists nested thousands deep at the one that goes too deep', () => {
      const lines = Array.from({ length: 3000 }, (_, i) => `${' '.repeat(i * 2)}- `);
      expect(problemsOf(`${lines.join('\n')}x\n`)).toEqual([
        '33:65 : nested deeper than 32 levels',
      ]);
    });

    it('refuses a mapping or a list of more than 1000 items at its start, before composing it', () => {
      // A 1 MiB file holds 70,000 variables: composing them compared each key with every other.
      const env = Array.from({ length: 1001 }, (_, i) => `      V${i}: x`).join('\n');
      expect(problemsOf(`jobs:\n  a:\n    steps: [{ run: x }]\n    env:\n${env}\n`)).toEqual([
        '5:7 : a mapping of more than 1000 items',
      ]);
      const values = Array.from({ length: 1001 }, (_, i) => `v${i}`).join(', ');
      expect(problemsOf(`jobs:\n  a:\n    steps: [{ run: x }]\n    needs: [${values}]\n`)).toEqual([
        '4:12 : a list of more than 1000 items',
      ]);
      const steps = Array.from({ length: 1000 }, () => '      - run: x').join('\n');
      expect(compile(`jobs:\n  a:\n    steps:\n${steps}\n`).jobs[0]?.steps).toHaveLength(1000);
    });

    it('reports an alias inside the node its own anchor names, at the alias', () => {
      expect(problemsOf('x: &a [*a]\njobs:\n  b:\n    steps: [{ run: x }]\n')).toEqual([
        '1:8 x: nested deeper than 32 levels through aliases (an alias inside the node its anchor names repeats for ever)',
      ]);
      expect(problemsOf('x: &a\n  y: *a\njobs:\n  b:\n    steps: [{ run: x }]\n')).toEqual([
        '2:6 x.y: nested deeper than 32 levels through aliases (an alias inside the node its anchor names repeats for ever)',
      ]);
    });

    it('reports an alias bomb at its first alias', () => {
      const levels = ['a', 'b', 'c', 'd', 'e', 'f'];
      const bomb = levels
        .map((name, i) =>
          i === 0
            ? `${name}: &${name} [x, x, x, x, x, x, x, x, x]`
            : `${name}: &${name} [${Array(9)
                .fill(`*${levels[i - 1]}`)
                .join(', ')}]`,
        )
        .join('\n');
      expect(problemsOf(`${bomb}\njobs:\n  b:\n    steps: [{ run: x }]\n`)).toEqual([
        '2:8 : Excessive alias count indicates a resource exhaustion attack (at most 100 alias expansions)',
      ]);
    });

    // Aliases share one string where the file is parsed; the plan goes on as copies (to the
    // server's main thread, to the database, to every agent), 100 to an alias, 50 to a matrix.
    it('refuses a file whose aliases and matrix expand past the limit of its plan', () => {
      const run = 'x'.repeat(20_000);
      const aliases = Array.from({ length: 99 }, () => '      - run: *b').join('\n');
      const source = `jobs:
  a:
    matrix: { M: [v0, v1, v2, v3] }
    steps:
      - run: &b "${run}"
${aliases}
`;
      expect(source.length).toBeLessThan(30_000);
      expect(problemsOf(source)).toEqual([
        '1:1 jobs: the pipeline expands to more than 4 MiB of jobs, steps and variables (aliases and matrices included), the limit of a plan',
      ]);
      // A skipped pipeline's reason quotes the file's globs: bounded the same way.
      const globs = Array.from({ length: 99 }, () => '*g').join(', ');
      const skipped = compilePipeline(
        `when: { branch: [&g "${'y'.repeat(50_000)}", ${globs}] }\njobs:\n  a: { steps: [{ run: x }] }\n`,
        push,
      );
      expect('skippedPipeline' in skipped && skipped.skippedPipeline.length).toBeLessThan(2_000);
    });

    it('lists at most 100 problems, and quotes no value past a readable length', () => {
      const aliases = (n: number, anchor: string) =>
        Array.from({ length: n }, () => `*${anchor}`).join(', ');
      const source = `jobs:
  a:
    when: { event: [&e "${'z'.repeat(10_000)}", ${aliases(99, 'e')}, &f "${'w'.repeat(10_000)}", ${aliases(49, 'f')}] }
    steps: [{ run: x }]
`;
      const problems = problemsOf(source);
      expect(problems).toHaveLength(101);
      expect(problems.at(-1)).toMatch(/^3:\d+ jobs\.a\.when\.event: and 50 more problems$/);
      for (const problem of problems) expect(problem.length).toBeLessThan(600);
      // The server's compile thread sends them over, and its main thread makes the error again.
      let thrown: unknown;
      try {
        compilePipeline(source, push);
      } catch (error) {
        thrown = error;
      }
      const sent = (thrown as PipelineConfigError).problems;
      expect(new PipelineConfigError('.kiln.yml', sent).problems).toEqual(sent);
    });

    it('still compiles ordinary anchors and aliases', () => {
      const plan = compile(`jobs:
  a: { steps: &steps [{ run: make }] }
  b: { steps: *steps }
`);
      expect(plan.jobs.map((job) => job.steps)).toEqual([
        [{ name: 'make', run: 'make' }],
        [{ name: 'make', run: 'make' }],
      ]);
    });
  });

  describe('encoding', () => {
    it('compiles UTF-8 bytes', () => {
      const bytes = new TextEncoder().encode('jobs:\n  a:\n    steps: [{ run: echo héllo }]\n');
      expect(compilePipeline(bytes, push)).toMatchObject({
        jobs: [{ steps: [{ run: 'echo héllo' }] }],
      });
    });

    it('rejects invalid UTF-8 at the line and column of the first bad byte', () => {
      const bytes = Uint8Array.from([
        ...new TextEncoder().encode('jobs:\n  a:\n    steps: [{ run: é'),
        0xff,
        ...new TextEncoder().encode(' }]\n'),
      ]);
      const error = (() => {
        try {
          compilePipeline(bytes, push);
        } catch (caught) {
          return caught;
        }
        return undefined;
      })();
      expect(error).toBeInstanceOf(PipelineConfigError);
      expect((error as PipelineConfigError).problems).toEqual([
        {
          line: 3,
          column: 21,
          path: '',
          message: 'the file is not valid UTF-8 (byte 32: 0xff)',
        },
      ]);
    });
  });
});

describe('image references', () => {
  const withImage = (image: string) =>
    `jobs:\n  a:\n    image: ${JSON.stringify(image)}\n    steps: [{ run: x }]\n`;

  it.each([
    'alpine',
    'node:20',
    'library/node:20.11-alpine3.19',
    'ghcr.io/acme/app:v1.2.3',
    'registry.example.com:5000/team/app_name__x--y.z',
    'localhost:5000',
    'localhost/app',
    '[::1]:5000/app:latest',
    `alpine@sha256:${'a'.repeat(64)}`,
    `alpine:3.19@sha256:${'0'.repeat(64)}`,
  ])('accepts %s', (image) => {
    expect(compile(withImage(image)).jobs[0]?.image).toBe(image);
  });

  it.each([
    ['a/../b', 'the path component ".." must be lowercase letters and digits'],
    ['::::/../etc/passwd@@', 'the digest "@" must be "algorithm:hex"'],
    ['Ubuntu', 'the path component "Ubuntu" must be lowercase'],
    ['node:', 'the tag "" must be 1 to 128'],
    ['node:-x', 'the tag "-x" must be'],
    [`node:${'x'.repeat(129)}`, 'must be 1 to 128'],
    ['node@sha256:abc', 'at least 32 hex digits'],
    ['a//b', 'the path component ""'],
    ['app/', 'the path component ""'],
    ['a_-b', 'the path component "a_-b"'],
    ['exa mple/app', 'the path component "exa mple"'],
    ['-registry/app', 'the path component "-registry"'],
    [':tag', 'the name is empty'],
    [`${'a'.repeat(256)}`, 'the name is longer than 255 characters'],
  ])('rejects %s at its line and column', (image, why) => {
    const [problem] = problemsOf(withImage(image));
    expect(problem).toContain('3:12 jobs.a.image: invalid image reference');
    expect(problem).toContain(why);
  });
});
