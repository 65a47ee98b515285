import { Controller, Get, Headers, Query, Res } from '@nestjs/common';
import { ApiHeader, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { ApiErrors } from '../api-errors';
import { Allow } from '../auth/access';
import { CurrentPrincipal, type Principal } from '../auth/principal';
import { LogsConfig } from '../logs/logs.config';
import { SseStream } from '../sse-stream';
import { LiveEventsQuery } from './events.dto';
import { LiveEventsService } from './live-events.service';

@ApiTags('live')
@Controller('api/v1')
export class EventsController {
  constructor(
    private readonly live: LiveEventsService,
    private readonly config: LogsConfig,
  ) {}

  /** Server-Sent Events for live pages: see LiveHub and docs/live-events.md. */
  @Allow.user()
  @Get('events')
  @ApiOperation({
    summary: 'What changed, live, as Server-Sent Events: one stream per page',
    description:
      'A fresh stream starts with `ready`; then a `change` event (`data`: the topics it ' +
      'concerns, and the kind, id and state of the record) whenever something on a watched ' +
      'topic changes: reload what the page shows. Every event has an `id`; reconnecting with ' +
      '`Last-Event-ID` replays what was missed, or sends `reset` (reload everything) when the ' +
      'server no longer knows that id. A comment every 15 s keeps idle connections open.',
  })
  @ApiHeader({
    name: 'last-event-id',
    required: false,
    description: 'The `id` of the last event received: resume after it',
  })
  @ApiOkResponse({
    description: 'The event stream',
    content: { 'text/event-stream': { schema: { type: 'string' } } },
  })
  @ApiErrors({
    400: 'An unknown topic, or an id that is not a UUID (the message names it)',
    404: 'The run or repository of a topic does not exist (or is not visible to the caller)',
  })
  async stream(
    @CurrentPrincipal() principal: Principal,
    @Query() query: LiveEventsQuery,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Res() res: Response,
  ): Promise<void> {
    const watch = await this.live.watch(principal, query.topics);
    await this.live.follow(new SseStream(res, this.config.heartbeatMs), watch, lastEventId);
  }
}
