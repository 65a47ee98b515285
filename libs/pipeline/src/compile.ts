import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';
import { parseDuration } from './duration';
import { JobDto, PipelineDto } from './dto';
import { cutText, PipelineConfigError, type PipelineProblem } from './errors';
import { Glob, GlobBudgetSpent, type GlobBudget } from './glob';
import { imageReferenceProblem } from './image-reference';
import { SourceMap, type Path } from './source-map';
import {
  EVENTS,
  type ExecutionPlan,
  type PlanJob,
  type SkippedPipeline,
  type TriggerContext,
} from './types';

export const JOB_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const DEFAULTS = { cpus: 1, mem: 1024, timeoutSeconds: 60 * 60, retry: 0 } as const;
export const LIMITS = {
  matrixPerJob: 50,
  jobsPerRun: 200,
  timeoutSeconds: 24 * 60 * 60,
  /**
   * The characters of a plan's text (its jobs' steps, variables, names, skip reasons), each copy
   * counted: aliases share one string where the file is parsed, but the plan is copied to the
   * server's main thread, into the database and to every agent. A file of a few KiB that
   * repeats a long step by aliases in a matrix would otherwise expand to gigabytes there.
   */
  planChars: 4 * 1024 * 1024,
} as const;
/** The longest reason given for a skip: the reason quotes the file's globs, which may be long. */
const MAX_REASON_CHARS = 1_000;
/**
 * What matching a file's `when` branch and path globs may cost, all of them together, in the steps
 * of {@link Glob.matches}: about a second here, where 50 globs matched against 3,000 changed
 * files, none matching, take 80 ms. Globs and changed files are each bounded in number (1,000
 * items a list; the forge's list of a push) but not in length: a file of long globs matched
 * against a push of many long names held the compile thread, and every pipeline queued behind
 * it, until the compile timed out.
 */
export const WHEN_MATCH_STEPS = 2 ** 25;

interface When {
  /** Where the filter is in the file. */
  at: Path;
  event?: string[];
  branch?: string[];
  path?: string[];
  environment?: string[];
}

/** A job that passed validation, before matrix expansion. */
interface JobSpec {
  name: string;
  image?: string;
  steps: { name: string; run: string }[];
  env: Record<string, string>;
  resources: { cpus: number; mem: number };
  needs: string[];
  when?: When;
  matrix: [string, string[]][];
  timeoutSeconds: number;
  retry: number;
  allowFailure: boolean;
  secrets: string[];
  artifacts: string[];
}

type Plain = Record<string, unknown>;

const isPlain = (value: unknown): value is Plain =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * `constructor`, `__proto__`, `toString`…: keys a plain object already answers to. A user may
 * name a job or a variable so; class-transformer cannot take them as keys, so they never reach it.
 */
const isPrototypeName = (key: string): boolean => Object.hasOwn(Object.prototype, key);

/**
 * Parses, validates and compiles a `.kiln.yml` into the jobs to run for `context`.
 *
 * Pure: the file's text in, a plan out; fetching the file and running the plan are the caller's.
 * Throws a {@link PipelineConfigError} listing every problem, each at its line and column.
 */
export function compilePipeline(
  source: string | Uint8Array,
  context: TriggerContext,
  fileName = '.kiln.yml',
): ExecutionPlan | SkippedPipeline {
  const text = typeof source === 'string' ? source : decodeUtf8(source, fileName);
  const map = new SourceMap(text);
  if (map.syntaxProblems.length > 0) throw new PipelineConfigError(fileName, map.syntaxProblems);
  const checked = new Checker(map).check();
  if (checked.problems.length > 0) throw new PipelineConfigError(fileName, checked.problems);
  const { when, jobs } = checked;
  const budget: GlobBudget = { left: WHEN_MATCH_STEPS };
  try {
    const pipelineMiss = when === undefined ? undefined : mismatch(when, context, budget);
    if (pipelineMiss !== undefined) return { skippedPipeline: `pipeline when: ${pipelineMiss}` };
    const planned = plan(jobs, context, budget);
    if (exceeds(planned, LIMITS.planChars)) {
      const message =
        `the pipeline expands to more than ${LIMITS.planChars / 1024 / 1024} MiB of jobs, steps` +
        ' and variables (aliases and matrices included), the limit of a plan';
      throw new PipelineConfigError(fileName, [map.problem(['jobs'], message, 'key')]);
    }
    return planned;
  } catch (error) {
    if (!(error instanceof WhenTooCostly)) throw error;
    const message =
      `matching the \`when\` globs of this file took more than ${WHEN_MATCH_STEPS} steps` +
      ` (the push changed ${context.changedFiles?.length ?? 0} files), and these ran out:` +
      ' use fewer or shorter globs';
    throw new PipelineConfigError(fileName, [map.problem(error.at, message)]);
  }
}

/** The `when` globs at `at` ran out of the file's {@link WHEN_MATCH_STEPS}. */
class WhenTooCostly extends Error {
  constructor(readonly at: Path) {
    super(`matching the globs at ${at.join('.')} took too long`);
  }
}

/** Collects every problem of a parsed document and, when there are none, the validated jobs. */
class Checker {
  private readonly problems: PipelineProblem[] = [];

  constructor(private readonly map: SourceMap) {}

  check(): { problems: PipelineProblem[]; when?: When; jobs: JobSpec[] } {
    const root = this.map.value;
    if (!isPlain(root)) {
      this.report([], 'the file must be a mapping with a `jobs` key');
      return { problems: this.problems, jobs: [] };
    }
    this.shape(PipelineDto, root, [], ['env', 'jobs']);
    const when = this.when(root.when, ['when']);
    const env = this.env(root.env, ['env']);
    const jobsValue = root.jobs;
    const jobs: JobSpec[] = [];
    if (isPlain(jobsValue)) {
      const names = Object.keys(jobsValue);
      if (names.length === 0) this.report(['jobs'], 'must define at least one job');
      for (const name of names) {
        const spec = this.job(name, jobsValue[name], names, env);
        if (spec !== undefined) jobs.push(spec);
      }
      this.cycles(jobs);
      const total = jobs.reduce((sum, job) => sum + expansionCount(job), 0);
      if (total > LIMITS.jobsPerRun) {
        this.report(
          ['jobs'],
          `the pipeline expands to ${total} jobs, more than the limit of ${LIMITS.jobsPerRun}`,
          'key',
        );
      }
    }
    // In file order, as a compiler lists them, whatever order the checks ran in.
    this.problems.sort((a, b) => a.line - b.line || a.column - b.column);
    return { problems: this.problems, when, jobs };
  }

  private report(path: Path, message: string, at: 'key' | 'value' = 'value'): void {
    this.problems.push(this.map.problem(path, message, at));
  }

  /**
   * Runs a class-validator DTO over `value` and reports its errors at their own nodes.
   * `freeForm` keys hold mappings of the user's own names (jobs, variables), checked elsewhere.
   */
  private shape(cls: new () => object, value: Plain, path: Path, freeForm: string[]): boolean {
    const before = this.problems.length;
    const view = this.shapeView(value, path, freeForm);
    const errors = validateSync(plainToInstance(cls, view), {
      whitelist: true,
      forbidNonWhitelisted: true,
      stopAtFirstError: true,
    });
    this.validationErrors(errors, path, value);
    return this.problems.length === before;
  }

  /**
   * A copy of `value` for class-transformer: free-form mappings emptied (their keys are the
   * user's names, not the DTO's) and keys named like Object.prototype members left out and
   * reported here, since no DTO has such a key.
   */
  private shapeView(value: unknown, path: Path, freeForm: string[] = []): unknown {
    if (Array.isArray(value)) return value.map((item, i) => this.shapeView(item, [...path, i]));
    if (!isPlain(value)) return value;
    const view: Plain = {};
    for (const [key, child] of Object.entries(value)) {
      if (isPrototypeName(key)) {
        this.report([...path, key], `unknown key "${key}"`, 'key');
      } else {
        view[key] =
          freeForm.includes(key) && isPlain(child) ? {} : this.shapeView(child, [...path, key]);
      }
    }
    return view;
  }

  private validationErrors(errors: ValidationError[], path: Path, parent: unknown): void {
    for (const error of errors) {
      const segment =
        Array.isArray(parent) && /^\d+$/.test(error.property)
          ? Number(error.property)
          : error.property;
      const childPath = [...path, segment];
      for (const [constraint, message] of Object.entries(error.constraints ?? {})) {
        if (constraint === 'whitelistValidation') {
          this.report(childPath, `unknown key "${error.property}"`, 'key');
        } else if (constraint === 'nestedValidation') {
          // The shown path drops a trailing index, so the message names the item instead.
          const item = typeof segment === 'number' ? `item ${segment + 1} ` : '';
          this.report(childPath, `${item}must be a mapping`);
        } else {
          this.report(childPath, message);
        }
      }
      this.validationErrors(error.children ?? [], childPath, error.value);
    }
  }

  private job(name: string, value: unknown, names: string[], pipelineEnv: Record<string, string>) {
    const path = ['jobs', name];
    if (!JOB_NAME.test(name)) {
      this.report(
        path,
        `invalid job name "${name}": use lowercase letters, digits, "-" and "_", starting with a letter or digit, at most 63 characters`,
        'key',
      );
    }
    if (!isPlain(value)) {
      this.report(path, 'must be a mapping with `steps`');
      return undefined;
    }
    const before = this.problems.length;
    const shapeOk = this.shape(JobDto, value, path, ['env', 'matrix']);
    const job = value as Partial<Record<keyof JobDto, unknown>>;
    const env = this.env(job.env, [...path, 'env']);
    const when = this.when(job.when, [...path, 'when']);
    const needs = this.needs(job.needs, [...path, 'needs'], name, names);
    const matrix = this.matrix(job.matrix, [...path, 'matrix']);
    const timeoutSeconds = this.timeout(job.timeout, [...path, 'timeout']);
    const secrets = this.strings(job.secrets, [...path, 'secrets'], (secret) =>
      ENV_NAME.test(secret) ? undefined : `invalid secret name "${secret}"`,
    );
    const artifacts = this.strings(job.artifacts, [...path, 'artifacts'], artifactProblem);
    if (typeof job.image === 'string' && job.image !== '') {
      const problem = imageReferenceProblem(job.image);
      if (problem !== undefined) this.report([...path, 'image'], problem);
    }
    if (!shapeOk || this.problems.length > before) return undefined;

    const dto = value as unknown as JobDto;
    return {
      name,
      image: dto.image,
      steps: dto.steps.map((step) => ({
        name: step.name ?? defaultStepName(step.run),
        run: step.run,
      })),
      env: { ...pipelineEnv, ...env },
      resources: {
        cpus: dto.resources?.cpus ?? DEFAULTS.cpus,
        mem: dto.resources?.mem ?? DEFAULTS.mem,
      },
      needs: [...new Set(needs)],
      when,
      matrix,
      timeoutSeconds,
      retry: dto.retry ?? DEFAULTS.retry,
      allowFailure: dto.allow_failure ?? false,
      secrets: [...new Set(secrets)],
      artifacts,
    } satisfies JobSpec;
  }

  /**
   * The items of a string-or-list value with their paths, checking each with `check`. Type
   * errors were already reported by the DTO, so non-strings are skipped silently here.
   */
  private strings(
    value: unknown,
    path: Path,
    check: (item: string) => string | undefined = () => undefined,
  ): string[] {
    const items: [string, Path][] =
      typeof value === 'string'
        ? [[value, path]]
        : Array.isArray(value)
          ? value.flatMap((item, i): [string, Path][] =>
              typeof item === 'string' ? [[item, [...path, i]]] : [],
            )
          : [];
    for (const [item, itemPath] of items) {
      const problem = check(item);
      if (problem !== undefined) this.report(itemPath, problem);
    }
    return items.map(([item]) => item);
  }

  private when(value: unknown, path: Path): When | undefined {
    if (value === undefined || !isPlain(value)) return undefined;
    const when: When = { at: path };
    const eventNames: readonly string[] = EVENTS;
    if (value.event !== undefined) {
      when.event = this.strings(value.event, [...path, 'event'], (event) =>
        eventNames.includes(event)
          ? undefined
          : `unknown event "${event}", expected one of ${EVENTS.join(', ')}`,
      );
    }
    if (value.branch !== undefined) when.branch = this.strings(value.branch, [...path, 'branch']);
    if (value.path !== undefined) when.path = this.strings(value.path, [...path, 'path']);
    if (value.environment !== undefined) {
      when.environment = this.strings(value.environment, [...path, 'environment']);
    }
    return when;
  }

  /**
   * Env keys must be valid shell names; scalar values become strings as written in the file.
   * Built with `Object.fromEntries`, which defines keys: `env[key] = …` would set the prototype
   * for a variable named `__proto__` and drop it.
   */
  private env(value: unknown, path: Path): Record<string, string> {
    const env: [string, string][] = [];
    if (!isPlain(value)) return {};
    for (const [key, raw] of Object.entries(value)) {
      const keyPath = [...path, key];
      if (!ENV_NAME.test(key)) this.report(keyPath, `invalid variable name "${key}"`, 'key');
      const text = this.scalarText(raw, keyPath);
      if (text === undefined) this.report(keyPath, 'must be a string, number or boolean');
      else env.push([key, text]);
    }
    return Object.fromEntries(env);
  }

  /** Uses the source text for numbers so `1.10` stays `1.10` instead of becoming `1.1`. */
  private scalarText(value: unknown, path: Path): string | undefined {
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') {
      return this.map.sourceText(path) ?? String(value);
    }
    return undefined;
  }

  private needs(value: unknown, path: Path, self: string, names: string[]): string[] {
    return this.strings(value, path, (need) => {
      if (need === self) return `job "${self}" cannot need itself`;
      if (!names.includes(need)) return `unknown job "${need}"`;
      return undefined;
    });
  }

  private matrix(value: unknown, path: Path): [string, string[]][] {
    if (!isPlain(value)) return [];
    const axes: [string, string[]][] = [];
    if (Object.keys(value).length === 0) this.report(path, 'must define at least one variable');
    for (const [name, values] of Object.entries(value)) {
      const axisPath = [...path, name];
      if (!ENV_NAME.test(name)) this.report(axisPath, `invalid variable name "${name}"`, 'key');
      if (!Array.isArray(values) || values.length === 0) {
        this.report(axisPath, 'must be a non-empty list of strings, numbers or booleans');
        continue;
      }
      const texts: string[] = [];
      values.forEach((item, i) => {
        const text = this.scalarText(item, [...axisPath, i]);
        if (text === undefined) {
          this.report([...axisPath, i], 'must be a string, number or boolean');
        } else if (texts.includes(text)) {
          this.report([...axisPath, i], `duplicate value "${text}"`);
        } else {
          texts.push(text);
        }
      });
      axes.push([name, texts]);
    }
    const count = axes.reduce((product, [, values]) => product * values.length, 1);
    if (count > LIMITS.matrixPerJob) {
      this.report(
        path,
        `expands to ${count} jobs, more than the limit of ${LIMITS.matrixPerJob} per job`,
      );
    }
    return axes;
  }

  private timeout(value: unknown, path: Path): number {
    if (value === undefined) return DEFAULTS.timeoutSeconds;
    const text = this.scalarText(value, path);
    const seconds = text === undefined ? undefined : parseDuration(text);
    if (seconds === undefined) {
      const shown = text === undefined ? JSON.stringify(value) : `"${text}"`;
      this.report(path, `invalid duration ${shown}, expected e.g. 90s, 5m or 1h30m`);
    } else if (seconds === 0) {
      this.report(path, 'must be longer than 0s');
    } else if (seconds > LIMITS.timeoutSeconds) {
      this.report(path, `"${text}" is longer than the limit of 24h`);
    } else {
      return seconds;
    }
    return DEFAULTS.timeoutSeconds;
  }

  /** Reports each cycle in `needs` once, as the path a user can follow: `a → b → a`. */
  private cycles(jobs: JobSpec[]): void {
    const byName = new Map(jobs.map((job) => [job.name, job]));
    const state = new Map<string, 'visiting' | 'done'>();
    const stack: string[] = [];
    const seen = new Set<string>();
    const visit = (name: string): void => {
      state.set(name, 'visiting');
      stack.push(name);
      const needs = byName.get(name)?.needs ?? [];
      needs.forEach((need, i) => {
        if (state.get(need) === 'visiting') {
          const cycle = [...stack.slice(stack.indexOf(need)), need];
          const id = [...new Set(cycle)].sort().join(',');
          if (seen.has(id)) return;
          seen.add(id);
          // Point at the need that closes the cycle (a scalar `needs: a` has no index: the
          // missing item falls back to `needs` itself).
          this.report(['jobs', name, 'needs', i], `cycle: ${cycle.join(' → ')}`);
        } else if (state.get(need) === undefined && byName.has(need)) {
          visit(need);
        }
      });
      stack.pop();
      state.set(name, 'done');
    };
    for (const job of jobs) if (state.get(job.name) === undefined) visit(job.name);
  }
}

/**
 * The text of a file read as bytes. Invalid UTF-8 is a problem at its line and column: decoding
 * it leniently would run a pipeline other than the one written, with U+FFFD where bytes were.
 */
function decodeUtf8(bytes: Uint8Array, fileName: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    // The longest prefix that decodes (as a stream, so a cut sequence is fine) ends where it breaks.
    let valid = 0;
    let invalid = bytes.length;
    while (invalid - valid > 1) {
      const middle = Math.floor((valid + invalid) / 2);
      try {
        new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, middle), {
          stream: true,
        });
        valid = middle;
      } catch {
        invalid = middle;
      }
    }
    // That prefix may end inside the sequence that breaks: point at the sequence's first byte.
    let start = valid;
    while (start > 0 && !decodes(bytes.subarray(0, start))) start--;
    const before = new TextDecoder('utf-8').decode(bytes.subarray(0, start));
    const lines = before.split('\n');
    throw new PipelineConfigError(fileName, [
      {
        line: lines.length,
        column: (lines[lines.length - 1] ?? '').length + 1,
        path: '',
        message: `the file is not valid UTF-8 (byte ${start}: 0x${(bytes[start] ?? 0).toString(16).padStart(2, '0')})`,
      },
    ]);
  }
}

function decodes(bytes: Uint8Array): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

function artifactProblem(path: string): string | undefined {
  if (path.trim() === '') return 'must not be empty';
  if (/^([A-Za-z]:)?[\\/]/.test(path)) return `"${path}" must be relative to the workspace`;
  if (path.split(/[\\/]/).includes('..')) return `"${path}" must not contain ".." segments`;
  return undefined;
}

/** Like GitHub Actions' "Run npm ci": the first line of the command, shortened. */
function defaultStepName(run: string): string {
  const line = run.trim().split('\n')[0] ?? '';
  return line.length > 60 ? `${line.slice(0, 59)}…` : line;
}

function expansionCount(job: JobSpec): number {
  return job.matrix.reduce((product, [, values]) => product * values.length, 1);
}

/** Every combination of the matrix values, in the order written, first variable slowest. */
function expand(job: JobSpec): { key: string; matrix?: Record<string, string> }[] {
  if (job.matrix.length === 0) return [{ key: job.name }];
  let combos: Record<string, string>[] = [{}];
  for (const [name, values] of job.matrix) {
    combos = combos.flatMap((combo) => values.map((value) => ({ ...combo, [name]: value })));
  }
  return combos.map((matrix) => ({
    key: `${job.name} (${Object.entries(matrix)
      .map(([name, value]) => `${name}=${value}`)
      .join(', ')})`,
    matrix,
  }));
}

/**
 * Why `when` does not match `context`, or undefined when it does. Its globs are matched out of
 * `budget`, shared by the file's filters: {@link WhenTooCostly} once it is spent.
 */
function mismatch(when: When, context: TriggerContext, budget: GlobBudget): string | undefined {
  const why = mismatchOf(when, context, budget);
  return why === undefined ? undefined : cutText(why, MAX_REASON_CHARS);
}

function mismatchOf(when: When, context: TriggerContext, budget: GlobBudget): string | undefined {
  const list = (items: string[]) => `[${items.join(', ')}]`;
  const anyMatches = (globs: string[], names: readonly string[], at: string): boolean => {
    const compiled = globs.map((glob) => new Glob(glob));
    try {
      return names.some((name) => compiled.some((glob) => glob.matches(name, budget)));
    } catch (error) {
      throw error instanceof GlobBudgetSpent ? new WhenTooCostly([...when.at, at]) : error;
    }
  };
  if (when.event !== undefined && !when.event.includes(context.event)) {
    return `event "${context.event}" is not in ${list(when.event)}`;
  }
  if (when.branch !== undefined) {
    const branch = context.branch;
    if (branch === undefined)
      return `branch filter ${list(when.branch)} but the trigger has no branch`;
    if (!anyMatches(when.branch, [branch], 'branch')) {
      return `branch "${branch}" matches none of ${list(when.branch)}`;
    }
  }
  if (when.path !== undefined && context.changedFiles !== undefined) {
    if (!anyMatches(when.path, context.changedFiles, 'path')) {
      return `no changed file matches ${list(when.path)}`;
    }
  }
  if (when.environment !== undefined) {
    const environment = context.environment;
    if (environment === undefined || !when.environment.includes(environment)) {
      return `environment ${environment === undefined ? '(none)' : `"${environment}"`} is not in ${list(when.environment)}`;
    }
  }
  return undefined;
}

/**
 * Whether the text of `value` (its strings and keys, each copy counted as it will be copied) is
 * longer than `max` characters. Stops counting once it is.
 */
function exceeds(value: unknown, max: number): boolean {
  let left = max;
  const visit = (node: unknown): boolean => {
    if (typeof node === 'string') return (left -= node.length) < 0;
    if (Array.isArray(node)) return node.some(visit);
    if (typeof node === 'object' && node !== null) {
      return Object.entries(node).some(([key, item]) => (left -= key.length) < 0 || visit(item));
    }
    return false;
  };
  return visit(value);
}

/** Orders jobs so each comes after its needs; ties keep the file's order, so plans are stable. */
function topological(jobs: JobSpec[]): JobSpec[] {
  const ordered: JobSpec[] = [];
  const placed = new Set<string>();
  while (ordered.length < jobs.length) {
    const next = jobs.find(
      (job) => !placed.has(job.name) && job.needs.every((need) => placed.has(need)),
    );
    // Unreachable: cycles were rejected during validation.
    if (next === undefined) throw new Error('cycle in needs after validation');
    ordered.push(next);
    placed.add(next.name);
  }
  return ordered;
}

const BUILT_IN_PROMOTED_RUN = 'built in the promoted run';

/**
 * The jobs a promote run leaves out: every job whose `when.event` does not name `promote`.
 * A job without `when` runs for every event, but a promotion ships what the promoted run built
 * instead of building it again, so it takes part only by asking for `promote` explicitly.
 */
function builtInPromotedRun(jobs: JobSpec[], context: TriggerContext): Set<string> {
  if (context.event !== 'promote') return new Set();
  return new Set(
    jobs.filter((job) => job.when?.event?.includes('promote') !== true).map((job) => job.name),
  );
}

function plan(jobs: JobSpec[], context: TriggerContext, budget: GlobBudget): ExecutionPlan {
  const keysOf = new Map(jobs.map((job) => [job.name, expand(job).map((e) => e.key)]));
  const skippedNames = new Map<string, string>();
  const builtBefore = builtInPromotedRun(jobs, context);
  const result: ExecutionPlan = { jobs: [], skipped: [] };
  const keysOfAll = (names: string[]): string[] => names.flatMap((name) => keysOf.get(name) ?? []);
  for (const job of topological(jobs)) {
    const declared = keysOfAll(job.needs);
    if (builtBefore.has(job.name)) {
      for (const { key } of expand(job)) {
        result.skipped.push({ key, reason: BUILT_IN_PROMOTED_RUN, needs: declared });
      }
      continue;
    }
    // `deploy: { needs: [build] }` reads naturally; in a promotion that need was met by the
    // promoted run, whose artifacts the job gets, so it is no reason to wait nor to skip.
    const needs = job.needs.filter((need) => !builtBefore.has(need));
    const promotedNeeds = keysOfAll(job.needs.filter((need) => builtBefore.has(need)));
    const own = job.when === undefined ? undefined : mismatch(job.when, context, budget);
    const blocker = needs.find((need) => skippedNames.has(need));
    const reason = own ?? (blocker === undefined ? undefined : `needs skipped job "${blocker}"`);
    if (reason !== undefined) skippedNames.set(job.name, reason);
    for (const { key, matrix } of expand(job)) {
      if (reason !== undefined) {
        result.skipped.push({ key, reason, needs: declared });
        continue;
      }
      const planJob: PlanJob = {
        key,
        name: job.name,
        ...(matrix === undefined ? {} : { matrix }),
        ...(job.image === undefined ? {} : { image: job.image }),
        steps: job.steps.map((step) => ({ ...step })),
        env: { ...job.env, ...matrix },
        resources: { ...job.resources },
        needs: keysOfAll(needs),
        ...(promotedNeeds.length === 0 ? {} : { promotedNeeds }),
        timeoutSeconds: job.timeoutSeconds,
        retry: job.retry,
        allowFailure: job.allowFailure,
        secrets: [...job.secrets],
        artifacts: [...job.artifacts],
      };
      result.jobs.push(planJob);
    }
  }
  return result;
}
