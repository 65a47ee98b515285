import { PipelineConfigError, type ExecutionPlan } from '@kiln/pipeline';
import { afterEach, describe, expect, it } from 'vitest';
import { PipelineCompiler, type PipelineCompilerOptions } from './pipeline-compiler';

const push = { event: 'push' as const, branch: 'main' };
const bytes = (text: string): Uint8Array => Buffer.from(text);
const PIPELINE = 'jobs:\n  build:\n    steps:\n      - run: make\n';

/**
 * A file that takes a while to compile: `jobs` jobs of 999 variables. Sixty (1 MiB) is the worst
 * the mirror's limits let through; the compiler itself has no size limit.
 */
function slowFile(jobs = 60): Uint8Array {
  let text = 'jobs:\n';
  for (let job = 0; job < jobs; job += 1) {
    text += `  job${job}:\n    steps:\n      - run: make\n    env:\n`;
    for (let key = 0; key < 999; key += 1) text += `      k${key}: ${key}\n`;
  }
  return bytes(text);
}

/** The problems a compile ended with. */
async function problemsOf(compiling: Promise<unknown>): Promise<string[]> {
  const error = await compiling.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PipelineConfigError);
  return (error as PipelineConfigError).problems.map((p) => `${p.line}:${p.column} ${p.message}`);
}

describe(PipelineCompiler.name, () => {
  let compiler: PipelineCompiler;
  const start = (options?: PipelineCompilerOptions): PipelineCompiler =>
    (compiler = new PipelineCompiler(options));
  afterEach(() => compiler?.onApplicationShutdown());

  it("compiles a file to its plan, and a file's mistakes to its problems", async () => {
    start();
    const plan = (await compiler.compile(bytes(PIPELINE), push, '.kiln.yml')) as ExecutionPlan;
    expect(plan.jobs.map((job) => job.key)).toEqual(['build']);
    expect(
      await problemsOf(compiler.compile(bytes('jobs:\n  a: 1\n  a: 2\n'), push, '.kiln.yml')),
    ).toEqual(['3:3 Map keys must be unique']);
  });

  it('keeps the event loop turning while a file compiles', async () => {
    start();
    let turns = 0;
    let compiling = true;
    const turn = (): void => {
      turns += 1;
      if (compiling) setImmediate(turn);
    };
    setImmediate(turn);
    await compiler.compile(slowFile(), push, '.kiln.yml').finally(() => (compiling = false));
    expect(turns).toBeGreaterThan(1);
  });

  it('refuses a file that takes longer than the timeout, then compiles the next', async () => {
    // Seconds against a quarter of one, where a small file on a warm thread takes milliseconds.
    start({ timeoutMs: 250 });
    expect(await problemsOf(compiler.compile(slowFile(180), push, '.kiln.yml'))).toEqual([
      '1:1 the file is refused: it took longer than 0.25 s to compile',
    ]);
    const plan = (await compiler.compile(bytes(PIPELINE), push, '.kiln.yml')) as ExecutionPlan;
    expect(plan.jobs).toHaveLength(1);
  });

  it('refuses a file that needs more memory than the thread has, then compiles the next', async () => {
    start({ maxMemoryMb: 32 });
    expect(await problemsOf(compiler.compile(slowFile(), push, '.kiln.yml'))).toEqual([
      '1:1 the file is refused: compiling it needs more than 32 MB',
    ]);
    const plan = (await compiler.compile(bytes(PIPELINE), push, '.kiln.yml')) as ExecutionPlan;
    expect(plan.jobs).toHaveLength(1);
  });
});
