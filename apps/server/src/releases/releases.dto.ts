import { Omittable } from '@kiln/common';
import {
  PROMOTION_STATES,
  RUN_STATES,
  type PromotionState,
  type RunState,
} from '@kiln/persistence';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsInt,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateIf,
} from 'class-validator';

export const ENVIRONMENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const BRANCH_GLOB = /^[^\s~^:?[\\]{1,255}$/;

/** An environment's policy, as an admin sets it (PUT): unset fields take their defaults. */
export class SaveEnvironmentDto {
  @ApiPropertyOptional({
    type: String,
    nullable: true,
    example: 'staging',
    description: 'The environment a run must have been deployed to first; null: none.',
  })
  @IsOptional()
  @ValidateIf((_, value) => value !== null)
  @Matches(ENVIRONMENT_NAME, { message: 'previous must be an environment name' })
  previous?: string | null;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 0,
    maximum: 10,
    default: 0,
    description: 'Distinct release managers who must approve, never the requester.',
  })
  @Omittable()
  @IsInt()
  @Min(0)
  @Max(10)
  requiredApprovals?: number;

  @ApiPropertyOptional({
    type: [String],
    nullable: true,
    example: ['main', 'release/*'],
    description: 'Branch globs a promoted run must come from; null or unset: any branch.',
  })
  @IsOptional()
  @ValidateIf((_, value) => value !== null)
  @IsArray()
  @ArrayMinSize(1, { message: 'allowedBranches must list a branch or glob (null: any branch)' })
  @ArrayMaxSize(50)
  @Matches(BRANCH_GLOB, { each: true, message: 'allowedBranches must be branch names or globs' })
  allowedBranches?: string[] | null;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    maximum: 43_200,
    default: 1440,
    description: 'A promotion awaiting approval expires after this many minutes.',
  })
  @Omittable()
  @IsInt()
  @Min(1)
  @Max(43_200)
  approvalTimeoutMinutes?: number;
}

export class EnvironmentResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ format: 'uuid' }) repositoryId!: string;
  @ApiProperty({ example: 'production', pattern: ENVIRONMENT_NAME.source }) name!: string;
  @ApiPropertyOptional({ example: 'staging' }) previous?: string;
  @ApiProperty({ type: 'integer' }) requiredApprovals!: number;
  @ApiPropertyOptional({ type: [String] }) allowedBranches?: string[];
  @ApiProperty({ type: 'integer' }) approvalTimeoutMinutes!: number;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
}

export class RequestPromotionDto {
  @ApiProperty({ example: 'production' })
  @Matches(ENVIRONMENT_NAME, { message: 'environment must be an environment name' })
  environment!: string;

  @ApiPropertyOptional({ maxLength: 2000 })
  @Omittable()
  @IsString()
  @MaxLength(2000)
  comment?: string;
}

export class DecisionDto {
  @ApiPropertyOptional({ maxLength: 2000 })
  @Omittable()
  @IsString()
  @MaxLength(2000)
  comment?: string;
}

export class HistoryQuery {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 200, default: 20 })
  @Omittable()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(200)
  limit?: number;

  @ApiPropertyOptional({
    format: 'uuid',
    description: 'A promotion id: only promotions requested before it (paging).',
  })
  @Omittable()
  @IsUUID()
  before?: string;
}

export class BoardQuery {
  @ApiPropertyOptional({
    format: 'uuid',
    description: 'A run: each entry then says whether the policy lets it be promoted there now.',
  })
  @Omittable()
  @IsUUID()
  run?: string;
}

export class EligibilityResponse {
  @ApiProperty({ format: 'uuid' }) run!: string;
  @ApiProperty({ description: 'Whether the run may be promoted to the environment now.' })
  eligible!: boolean;
  @ApiPropertyOptional({
    description: 'Why not, for people: the rule that refuses it, or the promotion under way.',
    example: 'run #7 has not been deployed to staging: promote it to staging first',
  })
  reason?: string;
}

export class RunSummaryResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ type: 'integer' }) number!: number;
  @ApiProperty() sha!: string;
  @ApiPropertyOptional() branch?: string;
  @ApiPropertyOptional() message?: string;
  @ApiPropertyOptional() author?: string;
  @ApiPropertyOptional({ format: 'date-time' }) finishedAt?: string;
}

export class DeployRunResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ type: 'integer' }) number!: number;
  @ApiProperty({ enum: [...RUN_STATES], enumName: 'RunState' }) state!: RunState;
}

export class DecisionResponse {
  @ApiProperty() user!: string;
  @ApiProperty({ enum: ['approve', 'reject'], enumName: 'Decision' }) decision!:
    'approve' | 'reject';
  @ApiPropertyOptional() comment?: string;
  @ApiProperty({ format: 'date-time' }) at!: string;
}

export class PromotedArtifactResponse {
  @ApiProperty({ description: 'The key of the job that kept it.' }) job!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ pattern: '^[0-9a-f]{64}$' }) sha256!: string;
  @ApiProperty({ type: 'integer' }) size!: number;
}

export class PromotionResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ format: 'uuid' }) repositoryId!: string;
  @ApiProperty() repositoryFullName!: string;
  @ApiProperty({ example: 'production' }) environment!: string;
  @ApiProperty({ enum: [...PROMOTION_STATES], enumName: 'PromotionState' }) state!: PromotionState;
  @ApiProperty({ type: RunSummaryResponse, description: 'The run promoted.' })
  run!: RunSummaryResponse;
  @ApiPropertyOptional({ type: DeployRunResponse, description: 'The promote run, once started.' })
  deployRun?: DeployRunResponse;
  @ApiProperty({ description: 'The run is older than what was deployed when it was asked.' })
  rollback!: boolean;
  @ApiProperty() requestedBy!: string;
  @ApiProperty({ format: 'date-time' }) requestedAt!: string;
  @ApiPropertyOptional() comment?: string;
  @ApiProperty({ type: 'integer' }) requiredApprovals!: number;
  @ApiProperty({ type: [DecisionResponse] }) approvals!: DecisionResponse[];
  @ApiPropertyOptional({ format: 'date-time' }) expiresAt?: string;
  @ApiPropertyOptional({ format: 'date-time' }) startedAt?: string;
  @ApiPropertyOptional({ format: 'date-time' }) finishedAt?: string;
  @ApiPropertyOptional() statusMessage?: string;
  @ApiProperty({ type: [PromotedArtifactResponse] }) artifacts!: PromotedArtifactResponse[];
}

export class EnvironmentBoardEntryResponse {
  @ApiProperty({ type: EnvironmentResponse }) environment!: EnvironmentResponse;
  @ApiPropertyOptional({ type: PromotionResponse, description: 'What is deployed there now.' })
  current?: PromotionResponse;
  @ApiProperty({ type: [PromotionResponse], description: 'Awaiting approval, queued, deploying.' })
  pending!: PromotionResponse[];
  @ApiProperty({ type: [RunSummaryResponse], description: 'Runs that may be promoted next.' })
  promotable!: RunSummaryResponse[];
  @ApiPropertyOptional({
    type: EligibilityResponse,
    description: 'With `?run=`: whether that run may be promoted here now, and why not.',
  })
  eligibility?: EligibilityResponse;
}
