import { Type } from 'class-transformer';
import { IsInt, IsOptional, Matches, Max, Min } from 'class-validator';

export class TriggerRunDto {
  /** Unset: the repository's default branch. */
  @IsOptional()
  @Matches(/^(?!-)(?!.*\.\.)[^\s~^:?*[\\]{1,255}$/, { message: 'branch must be a branch name' })
  branch?: string;

  /** Unset: the branch's head now. */
  @IsOptional()
  @Matches(/^([0-9a-f]{40}|[0-9a-f]{64})$/, { message: 'sha must be a full commit id' })
  sha?: string;
}

export class ListRunsQuery {
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(200)
  limit?: number;

  /** A run number: answers the runs before it (the `next` of the previous page). */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  before?: number;
}

export class CreateScheduleDto {
  @Matches(/^[a-z0-9][a-z0-9_-]{0,62}$/, {
    message: 'name must be 1-63 lowercase letters, digits, - or _',
  })
  name!: string;

  /** Five fields (minute hour day month weekday), or six with seconds, in UTC. */
  @Matches(/^\S+( \S+){4,5}$/, { message: 'cron must be a cron pattern such as "0 3 * * *"' })
  cron!: string;

  @IsOptional()
  @Matches(/^(?!-)(?!.*\.\.)[^\s~^:?*[\\]{1,255}$/, { message: 'branch must be a branch name' })
  branch?: string;
}
