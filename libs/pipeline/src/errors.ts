/** One problem in a pipeline file, at the 1-based position of the YAML node it is about. */
export interface PipelineProblem {
  line: number;
  column: number;
  /** Where in the document, e.g. `jobs.build.steps[0].run` (empty for the document itself). */
  path: string;
  message: string;
}

/**
 * Thrown by `compilePipeline` for a file that cannot be compiled. It carries every problem found,
 * not just the first, so a user fixes the file in one round trip instead of one push per mistake.
 */
export class PipelineConfigError extends Error {
  /** At most {@link MAX_PROBLEMS}, then one that says how many more; each cut to be read. */
  readonly problems: readonly PipelineProblem[];

  constructor(
    readonly fileName: string,
    problems: readonly PipelineProblem[],
  ) {
    // One more than the most is listed as it is, so that a list made here (the summary its last)
    // is the same when made again: the server's compile thread sends its problems over.
    const whole = problems.length <= MAX_PROBLEMS + 1;
    const listed = problems.slice(0, whole ? MAX_PROBLEMS + 1 : MAX_PROBLEMS).map(readable);
    const next = problems[MAX_PROBLEMS];
    if (!whole && next !== undefined) {
      const more = problems.length - MAX_PROBLEMS;
      listed.push({ ...readable(next), message: `and ${more} more problems` });
    }
    super(
      `Invalid pipeline ${fileName}:\n` +
        listed.map((p) => `  ${formatProblem(fileName, p)}`).join('\n'),
    );
    this.problems = listed;
    this.name = 'PipelineConfigError';
  }
}

/**
 * Problems listed at most: a file that repeats a mistake (through aliases, say) gets the first of
 * them, where every copy would be stored on its run and shown in every list of runs.
 */
export const MAX_PROBLEMS = 100;

/** The longest message of a problem, in characters: about four lines of a terminal. */
const MAX_PROBLEM_TEXT = 400;

function readable(problem: PipelineProblem): PipelineProblem {
  return {
    ...problem,
    path: cutText(problem.path, MAX_PROBLEM_TEXT / 4),
    message: cutText(problem.message, MAX_PROBLEM_TEXT),
  };
}

/**
 * `text` at most `max` characters long: its start and its end, with what is between them left
 * out. A message quoting a value of the file keeps what it says after the value.
 */
export function cutText(text: string, max: number): string {
  if (text.length <= max) return text;
  const tail = Math.floor(max / 4);
  return `${text.slice(0, max - tail - 1)}…${text.slice(text.length - tail)}`;
}

/** `file:line:col: path: message`, the shape compilers use so editors can jump to it. */
export function formatProblem(fileName: string, problem: PipelineProblem): string {
  const path = problem.path === '' ? '' : `${problem.path}: `;
  return `${fileName}:${problem.line}:${problem.column}: ${path}${problem.message}`;
}
