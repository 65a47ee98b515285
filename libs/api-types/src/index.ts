/*
 * The server's API types for its clients (the web app, the CLI), generated from its OpenAPI
 * document into ./openapi.ts by `npm run api:generate`. Clients name them here, never declare
 * them again: `npm run api:check` fails on a hand-written copy (scripts/api-types/copies.ts).
 */
import type { components, operations } from './openapi';

export type { components, operations, paths } from './openapi';
export type Schemas = components['schemas'];

/** An operation's query parameters (`Query<'Runs_list'>`), each optional. */
export type Query<Operation extends keyof operations> = NonNullable<
  operations[Operation]['parameters']['query']
>;

export type Forge = Schemas['Forge'];
export type RepositoryRole = Schemas['RepositoryRole'];
export type RunState = Schemas['RunState'];
export type RunEvent = Schemas['RunEvent'];
export type JobState = Schemas['JobState'];
export type JobAttemptState = Schemas['JobAttemptState'];
export type PromotionState = Schemas['PromotionState'];
export type WaitingJobState = Schemas['WaitingJobState'];
export type Decision = Schemas['Decision'];

// Every value of each enumeration, in the server's order: for pickers and filters.
export {
  forgeValues as FORGES,
  jobStateValues as JOB_STATES,
  promotionStateValues as PROMOTION_STATES,
  repositoryRoleValues as REPOSITORY_ROLES,
  runEventValues as RUN_EVENTS,
  runStateValues as RUN_STATES,
} from './openapi';
