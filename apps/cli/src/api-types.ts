/**
 * What the server's API answers, as JSON on the wire (dates are ISO strings). The states are the
 * generated ones (@kiln/api-types); the shapes below name only the fields the CLI relies on.
 */
import type { Schemas } from '@kiln/api-types';

export type { JobState, PromotionState, RunState } from '@kiln/api-types';

export type Repository = Schemas['RepositoryResponse'];

export type Run = Schemas['RunResponse'];

export type RunPage = Schemas['RunPageResponse'];

export type Job = Schemas['JobWithAttemptsResponse'];

export type JobAttempt = Schemas['JobAttemptResponse'];

export type RunDetails = Schemas['RunDetailsResponse'];

export type SecretPut = Schemas['PutSecretResponse'];

export type AgentResources = Schemas['ResourcesResponse'];

export type Agent = Schemas['AgentResponse'];

export type AgentList = Schemas['AgentsResponse'];

/** What an agent has, and uses: its total less what is free. */
export function agentUsage(agent: Agent): { total: AgentResources; used: AgentResources } {
  const { total, free } = agent;
  return { total, used: { cpus: total.cpus - free.cpus, mem: total.mem - free.mem } };
}

export type Artifact = Schemas['ArtifactResponse'];

/** The bytes of one artifact as they arrive, and the checksum the server sent with them. */
export interface ArtifactDownload {
  body: ReadableStream<Uint8Array>;
  /** The `x-kiln-sha256` header; undefined when the answer had none. */
  sha256: string | undefined;
}

export type Environment = Schemas['EnvironmentResponse'];

export type EnvironmentSettings = Schemas['SaveEnvironmentDto'];

export type RunSummary = Schemas['RunSummaryResponse'];

export type PromotionDecision = Schemas['DecisionResponse'];

export type Promotion = Schemas['PromotionResponse'];

export type EnvironmentBoardEntry = Schemas['EnvironmentBoardEntryResponse'];
