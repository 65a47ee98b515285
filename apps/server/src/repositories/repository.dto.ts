import { FORGES, type Forge, type Repository } from '@kiln/persistence';
import {
  IsBoolean,
  IsIn,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  MinLength,
  ValidateIf,
} from 'class-validator';

const CLONE_URL = /^(https?|git|ssh|file):\/\/\S+$/;
const BRANCH = /^(?!-)(?!.*\.\.)[^\s~^:?*[\\]{1,255}$/;

export class CreateRepositoryDto {
  @IsIn(FORGES, { message: `forge must be one of ${FORGES.join(', ')}` })
  forge!: Forge;

  /** `owner/name` as the forge spells it (GitLab: `group/subgroup/name`). */
  @Matches(/^[\w.-]+(\/[\w.-]+)+$/, { message: 'fullName must look like owner/name' })
  @MaxLength(255)
  fullName!: string;

  @Matches(CLONE_URL, { message: 'cloneUrl must be an http(s), git, ssh or file URL' })
  @MaxLength(2048)
  cloneUrl!: string;

  @IsOptional()
  @Matches(BRANCH, { message: 'defaultBranch must be a branch name' })
  defaultBranch?: string;

  /** For commit statuses (and private clones); stored sealed, never returned. */
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(4096)
  forgeToken?: string;

  /** The forge's API root; unset: derived from the forge and the clone URL. */
  @IsOptional()
  @Matches(/^https?:\/\/\S+$/, { message: 'apiUrl must be an http(s) URL' })
  apiUrl?: string;

  @IsOptional()
  @IsBoolean()
  autoCancelPullRequests?: boolean;
}

export class UpdateRepositoryDto {
  @IsOptional()
  @Matches(BRANCH, { message: 'defaultBranch must be a branch name' })
  defaultBranch?: string;

  /** `null` removes the token. */
  @IsOptional()
  @ValidateIf((_o, v) => v !== null)
  @IsString()
  @MinLength(1)
  @MaxLength(4096)
  forgeToken?: string | null;

  @IsOptional()
  @ValidateIf((_o, v) => v !== null)
  @Matches(/^https?:\/\/\S+$/, { message: 'apiUrl must be an http(s) URL' })
  apiUrl?: string | null;

  @IsOptional()
  @IsBoolean()
  autoCancelPullRequests?: boolean;
}

export class PutSecretDto {
  @IsString()
  @MaxLength(65_536)
  value!: string;
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
    webhookPath: `/hooks/${repository.forge}`,
    createdAt: repository.createdAt,
  };
}
