import { Omittable } from '@kiln/common';
import {
  FORGES,
  type ArtifactRetention,
  type Forge,
  type Repository,
  type SecretInfo,
} from '@kiln/persistence';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateIf,
} from 'class-validator';
import { ENVIRONMENT_NAME } from '../releases/releases.dto';

const CLONE_URL = /^(https?|git|ssh|file):\/\/\S+$/;
const BRANCH = /^(?!-)(?!.*\.\.)[^\s~^:?*[\\]{1,255}$/;
const MAX_RETENTION_DAYS = 36_500;
const MAX_RETENTION_RUNS = 1_000_000;

export class CreateRepositoryDto {
  @ApiProperty({ enum: [...FORGES], enumName: 'Forge', example: 'github' })
  @IsIn(FORGES, { message: `forge must be one of ${FORGES.join(', ')}` })
  forge!: Forge;

  /** `owner/name` as the forge spells it (GitLab: `group/subgroup/name`). */
  @ApiProperty({
    description:
      '`owner/name` as the forge spells it (GitLab: `group/subgroup/name`). Compared in any ' +
      'case, as forges do: a webhook may spell it otherwise, and a second registration in ' +
      'another case is refused.',
    maxLength: 255,
    example: 'acme/widgets',
  })
  // Parts of letters, digits, `_`, `.` and `-`, none of them `.` or `..` alone.
  @Matches(/^(?!\.\.?(?:\/|$))[\w.-]+(?:\/(?!\.\.?(?:\/|$))[\w.-]+)+$/, {
    message: 'fullName must look like owner/name',
  })
  @MaxLength(255)
  fullName!: string;

  @ApiProperty({
    description: 'An http(s), git, ssh or file URL.',
    maxLength: 2048,
    example: 'https://github.com/acme/widgets.git',
  })
  @Matches(CLONE_URL, { message: 'cloneUrl must be an http(s), git, ssh or file URL' })
  @MaxLength(2048)
  cloneUrl!: string;

  @ApiPropertyOptional({ description: 'Unset: `main`.', example: 'main' })
  @Omittable()
  @Matches(BRANCH, { message: 'defaultBranch must be a branch name' })
  defaultBranch?: string;

  /** For commit statuses (and private clones); stored sealed, never returned. */
  @ApiPropertyOptional({
    description: 'For commit statuses (and private clones); stored sealed, never returned.',
    minLength: 1,
    maxLength: 4096,
    writeOnly: true,
  })
  @Omittable()
  @IsString()
  @MinLength(1)
  @MaxLength(4096)
  forgeToken?: string;

  /** The forge's API root; unset: derived from the forge and the clone URL. */
  @ApiPropertyOptional({
    description: "The forge's API root; unset: derived from the forge and the clone URL.",
    example: 'https://api.github.com',
  })
  @Omittable()
  @Matches(/^https?:\/\/\S+$/, { message: 'apiUrl must be an http(s) URL' })
  apiUrl?: string;

  @ApiPropertyOptional({
    description: 'New pushes to a pull request cancel its older unfinished runs.',
    default: true,
  })
  @Omittable()
  @IsBoolean()
  autoCancelPullRequests?: boolean;
}

export class UpdateRepositoryDto {
  @ApiPropertyOptional({ example: 'main' })
  @Omittable()
  @Matches(BRANCH, { message: 'defaultBranch must be a branch name' })
  defaultBranch?: string;

  /** `null` removes the token. */
  @ApiPropertyOptional({
    description: '`null` removes the token.',
    type: String,
    nullable: true,
    minLength: 1,
    maxLength: 4096,
    writeOnly: true,
  })
  @IsOptional()
  @ValidateIf((_o, v) => v !== null)
  @IsString()
  @MinLength(1)
  @MaxLength(4096)
  forgeToken?: string | null;

  @ApiPropertyOptional({
    description: '`null`: derived from the forge and the clone URL again.',
    type: String,
    nullable: true,
  })
  @IsOptional()
  @ValidateIf((_o, v) => v !== null)
  @Matches(/^https?:\/\/\S+$/, { message: 'apiUrl must be an http(s) URL' })
  apiUrl?: string | null;

  @ApiPropertyOptional({
    description: 'New pushes to a pull request cancel its older unfinished runs.',
    default: true,
  })
  @Omittable()
  @IsBoolean()
  autoCancelPullRequests?: boolean;

  @ApiPropertyOptional({
    description:
      "Delete a run's artifacts once its newest artifact is older than this many days " +
      '(never those of a run deployed now or being promoted); `null`: no age limit.',
    type: 'integer',
    nullable: true,
    minimum: 1,
    maximum: MAX_RETENTION_DAYS,
    example: 30,
  })
  @IsOptional()
  @ValidateIf((_o, v) => v !== null)
  @IsInt()
  @Min(1)
  @Max(MAX_RETENTION_DAYS)
  artifactRetentionDays?: number | null;

  @ApiPropertyOptional({
    description:
      'Keep the artifacts of only the newest this many runs that have artifacts (and of runs ' +
      'deployed now or being promoted); `null`: no limit.',
    type: 'integer',
    nullable: true,
    minimum: 1,
    maximum: MAX_RETENTION_RUNS,
    example: 20,
  })
  @IsOptional()
  @ValidateIf((_o, v) => v !== null)
  @IsInt()
  @Min(1)
  @Max(MAX_RETENTION_RUNS)
  artifactRetentionRuns?: number | null;
}

export class PutSecretDto {
  @ApiProperty({
    description: 'Stored sealed; never shown again.',
    maxLength: 65_536,
    writeOnly: true,
  })
  @IsString()
  @MaxLength(65_536)
  value!: string;

  @ApiPropertyOptional({
    type: [String],
    example: ['production'],
    description:
      'Only deployments (promote runs) to these environments get it; unset: every run whose ' +
      'job lists it. A build that lists a limited secret ends in error saying so.',
  })
  @Omittable()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(20)
  @Matches(ENVIRONMENT_NAME, { each: true, message: 'environments must be environment names' })
  environments?: string[];
}

export const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/** A repository as the API shows it: never a secret, only whether one is set. */
export interface RepositoryView {
  id: string;
  forge: Forge;
  fullName: string;
  cloneUrl: string;
  defaultBranch: string;
  apiUrl?: string;
  hasForgeToken: boolean;
  autoCancelPullRequests: boolean;
  /** How long its runs' artifacts are kept; an absent measure does not limit. */
  artifactRetention: ArtifactRetention;
  /** Where the forge sends webhooks (relative to the server's address). */
  webhookPath: string;
  createdAt: Date;
}

export function toView(repository: Repository): RepositoryView {
  return {
    id: repository.id,
    forge: repository.forge,
    fullName: repository.fullName,
    cloneUrl: repository.cloneUrl,
    defaultBranch: repository.defaultBranch,
    ...(repository.apiUrl === undefined ? {} : { apiUrl: repository.apiUrl }),
    hasForgeToken: repository.sealedForgeToken !== undefined,
    autoCancelPullRequests: repository.autoCancelPullRequests,
    artifactRetention: { ...repository.artifactRetention },
    webhookPath: `/hooks/${repository.forge}`,
    createdAt: repository.createdAt,
  };
}

export class ArtifactRetentionResponse implements ArtifactRetention {
  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    description: "A run's artifacts go once its newest artifact is older than this many days.",
  })
  days?: number;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    description: 'Only the newest this many runs that have artifacts keep them.',
  })
  runs?: number;
}

export class RepositoryResponse implements RepositoryView {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ enum: [...FORGES], enumName: 'Forge', example: 'github' })
  forge!: Forge;

  @ApiProperty({ example: 'acme/widgets' })
  fullName!: string;

  @ApiProperty({ example: 'https://github.com/acme/widgets.git' })
  cloneUrl!: string;

  @ApiProperty({ example: 'main' })
  defaultBranch!: string;

  @ApiPropertyOptional({ example: 'https://api.github.com' })
  apiUrl?: string;

  @ApiProperty({ description: 'Whether a forge token is set (it is never shown).' })
  hasForgeToken!: boolean;

  @ApiProperty()
  autoCancelPullRequests!: boolean;

  @ApiProperty({
    type: ArtifactRetentionResponse,
    description:
      "How long its runs' artifacts are kept; an absent measure does not limit, none: kept " +
      'forever. Runs deployed now or being promoted keep theirs.',
    example: { runs: 20, days: 30 },
  })
  artifactRetention!: ArtifactRetentionResponse;

  @ApiProperty({
    description: "Where the forge sends webhooks (relative to the server's address).",
    example: '/hooks/github',
  })
  webhookPath!: string;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: Date;
}

export class WebhookSecretResponse {
  @ApiProperty({ description: 'The secret the forge signs webhooks with; shown this once.' })
  webhookSecret!: string;
}

export class CreatedRepositoryResponse extends RepositoryResponse implements WebhookSecretResponse {
  @ApiProperty({ description: 'The secret the forge signs webhooks with; shown this once.' })
  webhookSecret!: string;
}

export class SecretResponse implements SecretInfo {
  @ApiProperty({ pattern: SECRET_NAME.source, example: 'NPM_TOKEN' })
  name!: string;

  @ApiPropertyOptional({
    type: [String],
    description: 'The environments whose deployments alone get it; absent: not limited.',
  })
  environments?: string[];

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: Date;

  @ApiProperty({ type: String, format: 'date-time' })
  updatedAt!: Date;
}

export class PutSecretResponse {
  @ApiProperty({ example: 'NPM_TOKEN' })
  name!: string;

  @ApiProperty({ description: 'Whether the secret is new (else it was replaced).' })
  created!: boolean;
}
