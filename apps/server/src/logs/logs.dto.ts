import { Omittable } from '@kiln/common';
import { LOG_CHUNK_MAX_BYTES, type LogChunkMessage } from '@kiln/contracts';
import { BadRequestException } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, Max, Min } from 'class-validator';
import type { StepView } from './log-follower';

export class JobLogQuery {
  /** Which attempt of the job, from 1; the latest when unset. */
  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    description: 'Which attempt of the job, from 1; the latest when unset.',
  })
  @Omittable()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  attempt?: number;
}

export class JobLogStreamQuery extends JobLogQuery {
  /** Replay from this byte offset (an `id` of an earlier `log` event); `Last-Event-ID` wins. */
  @ApiPropertyOptional({
    type: 'integer',
    minimum: 0,
    description:
      'Replay from this byte offset (an `id` of an earlier `log` event); `Last-Event-ID` wins.',
  })
  @Omittable()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  from?: number;
}

/** The answer to a log chunk, 200 and 409 alike: the offset the server expects next. */
export class LogChunkAnswer {
  @ApiProperty({ type: 'integer', minimum: 0, description: 'The byte offset expected next.' })
  nextOffset!: number;
}

/** How the OpenAPI document shows an agent's {@link LogChunkMessage} (a contract of its own). */
export class LogChunkBody implements LogChunkMessage {
  @ApiProperty({ example: 'task-1' })
  taskId!: string;

  @ApiProperty({ type: 'integer', minimum: 0, description: 'For diagnosis, not for ordering.' })
  seq!: number;

  @ApiProperty({
    type: 'integer',
    minimum: 0,
    description: "Where the chunk starts in the task's output.",
  })
  offset!: number;

  @ApiProperty({ type: 'integer', minimum: 0, maximum: LOG_CHUNK_MAX_BYTES })
  bytes!: number;

  @ApiProperty({ description: 'The UTF-8 decoding of the bytes.' })
  data!: string;

  @ApiPropertyOptional({ description: "The last chunk: the task's output is complete." })
  eof?: boolean;
}

export class StepResponse implements StepView {
  @ApiProperty({ type: 'integer', description: "The step's position in the job, from 0." })
  idx!: number;

  @ApiProperty({ example: 'test' })
  name!: string;

  @ApiProperty({
    type: 'integer',
    description: "The number (from 1) of the step's first log line.",
  })
  firstLine!: number;

  @ApiProperty({ type: 'integer', nullable: true, description: 'Null while it runs.' })
  exitCode!: number | null;

  @ApiProperty({ format: 'date-time' })
  startedAt!: string;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  finishedAt!: string | null;
}

/** The offset in an SSE `Last-Event-ID` header (an `id` this server sent), if there is one. */
export function offsetFromLastEventId(header: string | undefined): number | undefined {
  if (header === undefined || header === '') return undefined;
  const offset = /^\d{1,16}$/.test(header) ? Number(header) : NaN;
  if (!Number.isSafeInteger(offset)) {
    throw new BadRequestException('Last-Event-ID must be the id of a log event (a byte offset)');
  }
  return offset;
}
