import {
  IsBoolean,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
} from 'class-validator';
import { ID_PATTERN } from './validation';

/** The most output one chunk carries; an agent cuts longer batches, and a longer line, here. */
export const LOG_CHUNK_MAX_BYTES = 256 * 1024;

/**
 * Where an agent sends a task's output: `POST url` with a {@link LogChunkMessage} body and
 * `Authorization: Bearer <token>`. The token is good for this one task only.
 */
export class LogSinkInfo {
  @Matches(/^https?:\/\/\S+$/, { message: 'logSink.url must be an http(s) URL' })
  @MaxLength(2048)
  url!: string;

  @IsString()
  @MaxLength(512)
  token!: string;
}

/**
 * A piece of a task's standard output. Chunks of a task are sent in order, one at a time; each
 * covers the bytes `[offset, offset + bytes)` of the output and, but for the last one and lines
 * longer than {@link LOG_CHUNK_MAX_BYTES}, ends with a newline. A receiver keeps what it has not
 * seen yet and ignores the rest, so a chunk resent after an agent restart (possibly longer than
 * the first time) is harmless. A chunk that would leave a gap is refused with 409 and the offset
 * the receiver expects: `{ "nextOffset": n }`.
 */
export class LogChunkMessage {
  @Matches(ID_PATTERN, { message: 'taskId must be 1-128 characters of A-Z a-z 0-9 _ . : -' })
  taskId!: string;

  /** 0, 1, 2, … in the order the agent sent them; for diagnosis, not for ordering. */
  @IsInt()
  @Min(0)
  seq!: number;

  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  offset!: number;

  /** The length of the raw output this chunk covers, in bytes (`data` is its UTF-8 decoding). */
  @IsInt()
  @Min(0)
  @Max(LOG_CHUNK_MAX_BYTES)
  bytes!: number;

  @IsString()
  @MaxLength(LOG_CHUNK_MAX_BYTES)
  data!: string;

  /** Last chunk: the task has ended and its output is complete. */
  @IsOptional()
  @IsBoolean()
  eof?: boolean;
}
