export { compilePipeline } from './compile';
export { PipelineConfigError, formatProblem, type PipelineProblem } from './errors';
export { parseDuration } from './duration';
export { Glob, GlobBudgetSpent, matchesGlob, type GlobBudget } from './glob';
export * from './types';
export { MAX_ALIAS_COUNT, MAX_NESTING } from './source-map';
