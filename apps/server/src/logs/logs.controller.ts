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
import type { Response } from 'express';
import { Readable } from 'node:stream';
import { Allow } from '../auth/access';
import type { StepView } from './log-follower';
import { LogsConfig } from './logs.config';
import { JobLogQuery, JobLogStreamQuery, LogChunkAnswer, offsetFromLastEventId } from './logs.dto';
import { LogsService } from './logs.service';
import { SseStream } from './sse-stream';
import { TaskLogTokenGuard } from './task-log-token.guard';

@Controller('api/v1')
export class LogsController {
  constructor(
    private readonly logs: LogsService,
    private readonly config: LogsConfig,
  ) {}

  /** An agent's chunk of a task's output; 409 `{ nextOffset }` when it would leave a gap. */
  @Allow.public()
  @UseGuards(TaskLogTokenGuard)
  @Post('tasks/:taskId/logs')
  @HttpCode(HttpStatus.OK)
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
  async text(@Param('jobId') jobId: string, @Query() query: JobLogQuery): Promise<StreamableFile> {
    const text = await this.logs.text(jobId, query.attempt);
    return new StreamableFile(Readable.from(text), { type: 'text/plain; charset=utf-8' });
  }

  @Allow.repository('viewer', 'job', 'jobId')
  @Get('jobs/:jobId/steps')
  steps(@Param('jobId') jobId: string, @Query() query: JobLogQuery): Promise<StepView[]> {
    return this.logs.steps(jobId, query.attempt);
  }

  /** Server-Sent Events: `log`, `step`, then `end`; see LogFollower. */
  @Allow.repository('viewer', 'job', 'jobId')
  @Get('jobs/:jobId/log/stream')
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
