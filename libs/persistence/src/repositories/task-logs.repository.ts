import { Inject, Injectable } from '@nestjs/common';
import { sql, type Kysely, type Selectable } from 'kysely';
import type { DatabaseConnection } from '../connect';
import { DATABASE } from '../database.token';
import type { Database, TaskLogsTable, TaskStepsTable } from '../schema';

/** A stored piece of a task's output: the bytes `[offset, offset + bytes)`, already masked. */
export interface TaskLogChunk {
  taskId: string;
  offset: number;
  /** How many bytes of the task's raw output this chunk covers (not the length of `text`). */
  bytes: number;
  /** The number (from 1) of the line `text` starts in; a chunk may start mid-line. */
  firstLine: number;
  /** The newlines in `text`: the next chunk starts in line `firstLine + lineCount`. */
  lineCount: number;
  text: string;
  /** The task's last chunk: its output is complete. */
  eof: boolean;
  createdAt: Date;
}

/** A step of a task's build script, as its markers in the output reported it. */
export interface TaskStep {
  taskId: string;
  idx: number;
  name: string;
  /** The number of the step's first stored line. */
  firstLine: number;
  /** Null while the step runs. */
  exitCode: number | null;
  startedAt: Date;
  finishedAt: Date | null;
}

/** What an agent sent: a byte range of a task's output and its UTF-8 decoding. */
export interface IncomingLogChunk {
  offset: number;
  bytes: number;
  data: string;
  eof: boolean;
}

/** A step boundary found in a chunk's output. */
export type TaskStepEvent =
  | { kind: 'start'; idx: number; name: string; firstLine: number }
  | { kind: 'end'; idx: number; exitCode: number };

/**
 * Turns the unseen part of a chunk's output into what is stored: the text (masked, step markers
 * taken out; its newlines number the lines) and the step boundaries found in it. `firstLine` is
 * the number of the line the data starts in; `range` the bytes of the task's output it decodes
 * (for a log limit); `inLine` whether the stored text ends inside that line (a line longer than a
 * chunk, cut by the agent), so that the data continues it. Pure: it may be called again when a
 * race is lost.
 */
export type RenderLog = (
  data: string,
  firstLine: number,
  range: { offset: number; bytes: number },
  inLine: boolean,
) => { text: string; steps: TaskStepEvent[] };

export type AppendResult =
  /** The unseen part of the chunk was stored; `steps` are the steps it started or ended. */
  | { outcome: 'appended'; nextOffset: number; chunk: TaskLogChunk; steps: TaskStep[] }
  /** Nothing in the chunk was new (a resend, or output after the last chunk). */
  | { outcome: 'seen'; nextOffset: number }
  /** The chunk starts after the stored output ends: it is refused, `nextOffset` is expected. */
  | { outcome: 'gap'; nextOffset: number };

/** Where a task's stored output ends. */
export interface TaskLogTail {
  nextOffset: number;
  /** The number of the line the next chunk starts in. */
  nextLine: number;
  eof: boolean;
}

/** The last stored chunk, as much of it as an append needs. */
interface LastChunk extends TaskLogTail {
  /** Where the last chunk starts; undefined when nothing is stored. */
  offset?: number;
  /** Whether the last chunk stored no text (its output was all step markers, or dropped). */
  textless: boolean;
  /** Whether the stored text ends inside a line: the next chunk's output continues it. */
  inLine: boolean;
}

type Db = Kysely<Database>;
type ChunkRow = Selectable<TaskLogsTable>;
type StepRow = Selectable<TaskStepsTable>;

/** Appends of one chunk that lose a race to another append re-read the tail; this many times. */
const MAX_APPEND_ATTEMPTS = 5;
/** The most bytes one row counts: its `bytes` column is a 32-bit integer in PostgreSQL. */
const MAX_ROW_BYTES = 2 ** 31 - 1;

/**
 * Tasks' output as their agents sent it, in contiguous chunks, and the steps seen in it.
 *
 * Appends are idempotent by byte offset: only the part of a chunk past the stored end is kept,
 * and it is stored at the stored end, so the primary key (task_id, byte_offset) makes two
 * concurrent appends of the same bytes collide: one is stored, the other re-reads the tail and
 * finds its bytes seen. Chunks are therefore contiguous from offset 0, without overlap.
 */
@Injectable()
export class TaskLogsRepository {
  constructor(@Inject(DATABASE) private readonly connection: DatabaseConnection) {}

  async append(
    taskId: string,
    incoming: IncomingLogChunk,
    render: RenderLog,
    now = new Date(),
  ): Promise<AppendResult> {
    for (let attempt = 1; attempt <= MAX_APPEND_ATTEMPTS; attempt++) {
      const result = await this.connection.db
        .transaction()
        .execute((trx) => this.tryAppend(trx, taskId, incoming, render, now));
      if (result !== undefined) return result;
    }
    throw new Error(
      `appending to the log of task ${taskId} lost ${MAX_APPEND_ATTEMPTS} races in a row`,
    );
  }

  /** One attempt; undefined when a concurrent append stored a chunk at the same offset first. */
  private async tryAppend(
    trx: Db,
    taskId: string,
    incoming: IncomingLogChunk,
    render: RenderLog,
    now: Date,
  ): Promise<AppendResult | undefined> {
    const tail = await lastChunkOf(trx, taskId);
    const { nextOffset } = tail;
    if (tail.eof) return { outcome: 'seen', nextOffset };
    if (incoming.offset > nextOffset) return { outcome: 'gap', nextOffset };
    const end = incoming.offset + incoming.bytes;
    // A new eof on already stored bytes (a resend after a restart) is stored as an empty chunk.
    if (end < nextOffset || (end === nextOffset && !incoming.eof)) {
      return { outcome: 'seen', nextOffset };
    }
    const unseen = unseenPart(incoming.data, incoming.bytes, nextOffset - incoming.offset);
    // Not to be cut exactly: the sender sends again from where the log ends.
    if (unseen === undefined) return { outcome: 'seen', nextOffset };
    const rendered = render(
      unseen,
      tail.nextLine,
      { offset: nextOffset, bytes: end - nextOffset },
      tail.inLine,
    );
    // A text column of PostgreSQL holds no NUL: a build's binary output shows it as U+FFFD.
    const text = rendered.text.replaceAll('\u0000', '\uFFFD');
    if (
      text === '' &&
      tail.textless &&
      tail.offset !== undefined &&
      end - tail.offset <= MAX_ROW_BYTES
    ) {
      const last = { ...tail, offset: tail.offset };
      return this.extend(trx, taskId, last, { end, eof: incoming.eof }, rendered.steps, now);
    }
    const row: ChunkRow = {
      task_id: taskId,
      byte_offset: nextOffset,
      bytes: end - nextOffset,
      first_line: tail.nextLine,
      line_count: countNewlines(text),
      text,
      eof: incoming.eof ? 1 : 0,
      created_at: now.toISOString(),
    };
    const inserted = await trx
      .insertInto('task_logs')
      .values(row)
      .onConflict((oc) => oc.columns(['task_id', 'byte_offset']).doNothing())
      .returningAll()
      .executeTakeFirst();
    if (inserted === undefined) return undefined;
    const steps = await applySteps(trx, taskId, rendered.steps, now);
    return {
      outcome: 'appended',
      nextOffset: row.byte_offset + row.bytes,
      chunk: toChunk(inserted),
      steps,
    };
  }

  /**
   * Output that stores no text after a chunk that stored none (a log past its limit) extends
   * that chunk's row instead of adding one, so what is dropped costs no space. The row is
   * compared and set: undefined when a concurrent append changed it first.
   */
  private async extend(
    trx: Db,
    taskId: string,
    tail: LastChunk & { offset: number },
    part: { end: number; eof: boolean },
    steps: readonly TaskStepEvent[],
    now: Date,
  ): Promise<AppendResult | undefined> {
    const updated = await trx
      .updateTable('task_logs')
      .set({ bytes: part.end - tail.offset, eof: part.eof ? 1 : 0 })
      .where('task_id', '=', taskId)
      .where('byte_offset', '=', tail.offset)
      .where('bytes', '=', tail.nextOffset - tail.offset)
      .where('eof', '=', 0)
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) === 0) return undefined;
    return {
      outcome: 'appended',
      nextOffset: part.end,
      // Followers get the new part alone: it starts where what they were sent ends.
      chunk: {
        taskId,
        offset: tail.nextOffset,
        bytes: part.end - tail.nextOffset,
        firstLine: tail.nextLine,
        lineCount: 0,
        text: '',
        eof: part.eof,
        createdAt: now,
      },
      steps: await applySteps(trx, taskId, steps, now),
    };
  }

  async tail(taskId: string): Promise<TaskLogTail> {
    const { nextOffset, nextLine, eof } = await lastChunkOf(this.connection.db, taskId);
    return { nextOffset, nextLine, eof };
  }

  /**
   * Up to `limit` chunks in order, from the one holding byte `fromOffset` (or, past the end of a
   * chunk, the next one). From a chunk's end offset, that is exactly the chunks after it.
   */
  async readFromOffset(taskId: string, fromOffset: number, limit = 32): Promise<TaskLogChunk[]> {
    const { db } = this.connection;
    const start = db
      .selectFrom('task_logs')
      .select(sql<number>`coalesce(max(byte_offset), 0)`.as('start'))
      .where('task_id', '=', taskId)
      .where('byte_offset', '<=', fromOffset);
    const rows = await db
      .selectFrom('task_logs')
      .selectAll()
      .where('task_id', '=', taskId)
      .where('byte_offset', '>=', start)
      .where((eb) =>
        eb.or([
          eb('byte_offset', '>=', fromOffset),
          eb(sql<number>`byte_offset + bytes`, '>', fromOffset),
        ]),
      )
      .orderBy('byte_offset')
      .limit(limit)
      .execute();
    return rows.map(toChunk);
  }

  /**
   * Up to `limit` chunks in order, from the first one holding (part of) line `fromLine`; that
   * one may start with earlier lines, and may even hold none of it when the line starts the next
   * chunk: callers skip lines before `fromLine` themselves.
   */
  async readFromLine(taskId: string, fromLine: number, limit = 32): Promise<TaskLogChunk[]> {
    const rows = await this.connection.db
      .selectFrom('task_logs')
      .selectAll()
      .where('task_id', '=', taskId)
      // first_line + line_count grows with byte_offset, so this is a suffix of the chunks.
      .where(sql<number>`first_line + line_count`, '>=', fromLine)
      .orderBy('byte_offset')
      .limit(limit)
      .execute();
    return rows.map(toChunk);
  }

  /** Records that step `idx` started at line `firstLine`; a second start of it changes nothing. */
  async startStep(
    taskId: string,
    step: { idx: number; name: string; firstLine: number },
    now = new Date(),
  ): Promise<TaskStep | undefined> {
    const [row] = await applySteps(this.connection.db, taskId, [{ kind: 'start', ...step }], now);
    return row;
  }

  /** Records the exit code of a started step; undefined if it never started or already ended. */
  async endStep(
    taskId: string,
    idx: number,
    exitCode: number,
    now = new Date(),
  ): Promise<TaskStep | undefined> {
    const [row] = await applySteps(
      this.connection.db,
      taskId,
      [{ kind: 'end', idx, exitCode }],
      now,
    );
    return row;
  }

  /** A task's steps, by index. */
  async listSteps(taskId: string): Promise<TaskStep[]> {
    const rows = await this.connection.db
      .selectFrom('task_steps')
      .selectAll()
      .where('task_id', '=', taskId)
      .orderBy('idx')
      .execute();
    return rows.map(toStep);
  }

  /** Whether a task's output is complete (its eof chunk is stored). */
  async isComplete(taskId: string): Promise<boolean> {
    return (await this.tail(taskId)).eof;
  }
}

/** A chunk's last character of text ('' when it has none), the same on SQLite and PostgreSQL. */
const LAST_CHARACTER = sql<string>`substr(text, length(text), 1)`.as('last_character');

async function lastChunkOf(db: Db, taskId: string): Promise<LastChunk> {
  const last = await db
    .selectFrom('task_logs')
    .select(['byte_offset', 'bytes', 'first_line', 'line_count', 'eof'])
    .select(sql<number>`length(text)`.as('text_length'))
    .select(LAST_CHARACTER)
    .where('task_id', '=', taskId)
    .orderBy('byte_offset', 'desc')
    .limit(1)
    .executeTakeFirst();
  if (last === undefined) {
    return { nextOffset: 0, nextLine: 1, eof: false, textless: false, inLine: false };
  }
  return {
    offset: Number(last.byte_offset),
    nextOffset: Number(last.byte_offset) + last.bytes,
    nextLine: last.first_line + last.line_count,
    eof: last.eof === 1,
    textless: Number(last.text_length) === 0,
    inLine:
      Number(last.text_length) > 0
        ? last.last_character !== '\n'
        : await endsInLine(db, taskId, Number(last.byte_offset)),
  };
}

/** Whether the last text stored before byte `before` ends inside a line; skips textless chunks. */
async function endsInLine(db: Db, taskId: string, before: number): Promise<boolean> {
  const last = await db
    .selectFrom('task_logs')
    .select(LAST_CHARACTER)
    .where('task_id', '=', taskId)
    .where('byte_offset', '<', before)
    .where(sql<boolean>`length(text) > 0`)
    .orderBy('byte_offset', 'desc')
    .limit(1)
    .executeTakeFirst();
  return last !== undefined && last.last_character !== '\n';
}

/** The steps as they are after the events, each once, by index. */
async function applySteps(
  db: Db,
  taskId: string,
  events: readonly TaskStepEvent[],
  now: Date,
): Promise<TaskStep[]> {
  const changed = new Map<number, TaskStep>();
  const at = now.toISOString();
  for (const event of events) {
    let row: StepRow | undefined;
    if (event.kind === 'start') {
      row = await db
        .insertInto('task_steps')
        .values({
          task_id: taskId,
          idx: event.idx,
          name: event.name,
          first_line: event.firstLine,
          exit_code: null,
          started_at: at,
          finished_at: null,
        })
        .onConflict((oc) => oc.columns(['task_id', 'idx']).doNothing())
        .returningAll()
        .executeTakeFirst();
    } else {
      row = await db
        .updateTable('task_steps')
        .set({ exit_code: event.exitCode, finished_at: at })
        .where('task_id', '=', taskId)
        .where('idx', '=', event.idx)
        .where('finished_at', 'is', null)
        .returningAll()
        .executeTakeFirst();
    }
    if (row !== undefined) changed.set(row.idx, toStep(row));
  }
  return [...changed.values()];
}

/**
 * The data after its first `skip` bytes. `data` is the UTF-8 decoding of `bytes` raw bytes; when
 * the raw output was not valid UTF-8 the decoding is longer, and there is no exact cut: undefined.
 */
function unseenPart(data: string, bytes: number, skip: number): string | undefined {
  if (skip <= 0) return data;
  const encoded = Buffer.from(data, 'utf8');
  // Invalid bytes decode longer than they are (U+FFFD): where the unseen part begins in the text
  // is then unknown, and a guess would store text twice or lose some, markers included.
  if (encoded.length !== bytes) return undefined;
  return encoded.subarray(Math.min(skip, encoded.length)).toString('utf8');
}

function countNewlines(text: string): number {
  let count = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) count++;
  return count;
}

function toChunk(row: ChunkRow): TaskLogChunk {
  return {
    taskId: row.task_id,
    offset: Number(row.byte_offset),
    bytes: row.bytes,
    firstLine: row.first_line,
    lineCount: row.line_count,
    text: row.text,
    eof: row.eof === 1,
    createdAt: new Date(row.created_at),
  };
}

function toStep(row: StepRow): TaskStep {
  return {
    taskId: row.task_id,
    idx: row.idx,
    name: row.name,
    firstLine: row.first_line,
    exitCode: row.exit_code,
    startedAt: new Date(row.started_at),
    finishedAt: row.finished_at === null ? null : new Date(row.finished_at),
  };
}
