import { BadRequestException } from '@nestjs/common';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';

export class JobLogQuery {
  /** Which attempt of the job, from 1; the latest when unset. */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  attempt?: number;
}

export class JobLogStreamQuery extends JobLogQuery {
  /** Replay from this byte offset (an `id` of an earlier `log` event); `Last-Event-ID` wins. */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  from?: number;
}

/** The answer to a log chunk, 200 and 409 alike: the offset the server expects next. */
export class LogChunkAnswer {
  nextOffset!: number;
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
