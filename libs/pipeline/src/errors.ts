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
  constructor(
    readonly fileName: string,
    readonly problems: readonly PipelineProblem[],
  ) {
    super(
      `Invalid pipeline ${fileName}:\n` +
        problems.map((p) => `  ${formatProblem(fileName, p)}`).join('\n'),
    );
    this.name = 'PipelineConfigError';
  }
}

/** `file:line:col: path: message`, the shape compilers use so editors can jump to it. */
export function formatProblem(fileName: string, problem: PipelineProblem): string {
  const path = problem.path === '' ? '' : `${problem.path}: `;
  return `${fileName}:${problem.line}:${problem.column}: ${path}${problem.message}`;
}
