import { LogChunkMessage } from '@kiln/contracts';
import {
  Body,
  Controller,
  Get,
  Header,
  Headers,
  HttpCode,
  HttpStatus,
  Param,
  Post,
  Query,
  Res,
  StreamableFile,
  UseGuards,
} from '@nestjs/common';
import {
  ApiBody,
  ApiConflictResponse,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { Readable } from 'node:stream';
import { ApiErrors } from '../api-errors';
import { Allow } from '../auth/access';
import type { StepView } from './log-follower';
import { LogsConfig } from './logs.config';
import {
  JobLogQuery,
  JobLogStreamQuery,
  LogChunkAnswer,
  LogChunkBody,
  offsetFromLastEventId,
  StepResponse,
} from './logs.dto';
import { LogsService } from './logs.service';
import { SseStream } from '../sse-stream';
import { TaskLogTokenGuard } from './task-log-token.guard';

@ApiTags('logs')
@Controller('api/v1')
export class LogsController {
  constructor(
    private readonly logs: LogsService,
    private readonly config: LogsConfig,
  ) {}

  @Allow.public()
  @UseGuards(TaskLogTokenGuard)
  @Post('tasks/:taskId/logs')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: "An agent's chunk of a task's output",
    description:
      'For agents: `Authorization: Bearer <log token>`, a token good for this one task only ' +
      "(not a user's API token). Idempotent by byte offset.",
  })
  @ApiBody({ type: LogChunkBody })
  @ApiOkResponse({ type: LogChunkAnswer, description: 'Stored (or seen before)' })
  @ApiConflictResponse({ type: LogChunkAnswer, description: 'The chunk would leave a gap' })
  @ApiErrors({ 401: "No log token, or not this task's" })
  async ingest(
    @Param('taskId') taskId: string,
    @Body() chunk: LogChunkMessage,
    @Res({ passthrough: true }) res: Response,
  ): Promise<LogChunkAnswer> {
    const { accepted, nextOffset } = await this.logs.ingest(taskId, chunk);
    if (!accepted) res.status(HttpStatus.CONFLICT);
    return { nextOffset };
  }

  @Allow.repository('viewer', 'job', 'jobId')
  @Get('jobs/:jobId/log')
  @Header('x-content-type-options', 'nosniff')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: "A job's log as text (secret values masked)" })
  @ApiOkResponse({
    description: 'The log so far',
    content: { 'text/plain': { schema: { type: 'string' } } },
  })
  @ApiErrors({ 404: 'The job has no such attempt' })
  async text(@Param('jobId') jobId: string, @Query() query: JobLogQuery): Promise<StreamableFile> {
    const text = await this.logs.text(jobId, query.attempt);
    return new StreamableFile(Readable.from(text), { type: 'text/plain; charset=utf-8' });
  }

  @Allow.repository('viewer', 'job', 'jobId')
  @Get('jobs/:jobId/steps')
  @ApiOperation({ summary: "A job's steps: where each starts in the log, how it ended" })
  @ApiOkResponse({ type: [StepResponse] })
  @ApiErrors({ 404: 'The job has no such attempt' })
  steps(@Param('jobId') jobId: string, @Query() query: JobLogQuery): Promise<StepView[]> {
    return this.logs.steps(jobId, query.attempt);
  }

  /** Server-Sent Events: `log`, `step`, then `end`; see LogFollower. */
  @Allow.repository('viewer', 'job', 'jobId')
  @Get('jobs/:jobId/log/stream')
  @ApiOperation({
    summary: "A job's log, live, as Server-Sent Events",
    description:
      'Events `log` (`id`: the byte offset after it), `step` (a step whenever it changes), then ' +
      '`end`. Reconnecting with `Last-Event-ID` resumes where the stream stopped.',
  })
  @ApiHeader({
    name: 'last-event-id',
    required: false,
    description: 'The `id` of the last `log` event received: resume after it',
  })
  @ApiOkResponse({
    description: 'The event stream',
    content: { 'text/event-stream': { schema: { type: 'string' } } },
  })
  @ApiErrors({ 404: 'The job has no such attempt' })
  async stream(
    @Param('jobId') jobId: string,
    @Query() query: JobLogStreamQuery,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Res() res: Response,
  ): Promise<void> {
    const from = offsetFromLastEventId(lastEventId) ?? query.from;
    const follow = await this.logs.follow(jobId, { attempt: query.attempt, from });
    await follow(new SseStream(res, this.config.heartbeatMs));
  }
}
