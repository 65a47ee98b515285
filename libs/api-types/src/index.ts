/*
 * The server's API types for its clients (the web app, the CLI), generated from its OpenAPI
 * document into ./openapi.ts by `npm run api:generate`. Clients name them here, never declare
 * them again: `npm run api:check` fails on a hand-written copy (scripts/api-types/copies.ts).
 */
import type { components } from './openapi';

export type { components, paths } from './openapi';
export type Schemas = components['schemas'];

export type Forge = Schemas['Forge'];
export type RepositoryRole = Schemas['RepositoryRole'];
export type RunState = Schemas['RunState'];
export type RunEvent = Schemas['RunEvent'];
export type JobState = Schemas['JobState'];
export type JobAttemptState = Schemas['JobAttemptState'];
export type PromotionState = Schemas['PromotionState'];
