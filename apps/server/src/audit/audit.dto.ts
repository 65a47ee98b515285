import { Omittable } from '@kiln/common';
import type { AuditEvent } from '@kiln/persistence';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsString, IsUUID, Matches, Max, MaxLength, Min } from 'class-validator';

/** `<object type>.<verb in the past>`, as AuditLog.record is given it. */
const ACTION = /^[a-z-]+\.[a-z-]+$/;

export class ListAuditQuery {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 200, default: 50 })
  @Omittable()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(200)
  limit?: number;

  @ApiPropertyOptional({
    format: 'uuid',
    description: 'An event id: answers the events before it (the `next` of the previous page).',
  })
  @Omittable()
  @IsUUID('4')
  before?: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'Only events about this repository.' })
  @Omittable()
  @IsUUID('4')
  repositoryId?: string;

  @ApiPropertyOptional({
    pattern: ACTION.source,
    example: 'secret.set',
    description: 'Only events of this action.',
  })
  @Omittable()
  @Matches(ACTION, { message: 'action must look like `secret.set`' })
  @MaxLength(100)
  action?: string;

  @ApiPropertyOptional({
    example: 'alice',
    description: 'Only events of this actor (the user name at the time).',
  })
  @Omittable()
  @IsString()
  @MaxLength(63)
  actor?: string;
}

export class AuditEventResponse {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ type: String, format: 'date-time' })
  at!: string;

  @ApiPropertyOptional({
    example: 'alice',
    description: 'The user name at the time; absent when Kiln itself acted.',
  })
  actor?: string;

  @ApiProperty({ pattern: ACTION.source, example: 'run.canceled' })
  action!: string;

  @ApiProperty({ example: 'run' })
  objectType!: string;

  @ApiProperty({ description: 'The object: a UUID, or a name where it has none (a secret).' })
  objectId!: string;

  @ApiPropertyOptional({ format: 'uuid' })
  repositoryId?: string;

  @ApiPropertyOptional({
    example: 'acme/web',
    description: 'Absent when the repository has been removed since.',
  })
  repositoryFullName?: string;

  @ApiProperty({ example: 'alice canceled run #12 of acme/web' })
  summary!: string;

  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: "The action's particulars (never a secret's value or a token).",
  })
  details!: Record<string, unknown>;
}

export class AuditPageResponse {
  @ApiProperty({ type: [AuditEventResponse], description: 'Newest first.' })
  events!: AuditEventResponse[];

  @ApiPropertyOptional({
    format: 'uuid',
    description: 'Pass as `before` for the next (older) page; absent on the last page.',
  })
  next?: string;
}

/** An event as the API shows it; `fullNames` maps repository ids to their names now. */
export function toAuditEventResponse(
  event: AuditEvent,
  fullNames: ReadonlyMap<string, string>,
): AuditEventResponse {
  const fullName = event.repositoryId === undefined ? undefined : fullNames.get(event.repositoryId);
  return {
    id: event.id,
    at: event.at.toISOString(),
    ...(event.actorName === undefined ? {} : { actor: event.actorName }),
    action: event.action,
    objectType: event.objectType,
    objectId: event.objectId,
    ...(event.repositoryId === undefined ? {} : { repositoryId: event.repositoryId }),
    ...(fullName === undefined ? {} : { repositoryFullName: fullName }),
    summary: event.summary,
    details: event.details,
  };
}
