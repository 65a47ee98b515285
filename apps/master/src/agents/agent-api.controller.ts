import { AgentCall, STREAM_ID_HEADER } from '@kiln/contracts';
import { BadRequestException, Controller, Headers, HttpStatus, Post, Res } from '@nestjs/common';
import type { Response } from 'express';
import { MasterService } from '../cluster/master.service';
import { MessageBody } from '../http/message-body.decorator';
import { HttpEventStream, subscribing, type EventStream } from '../streams/event-stream';

/**
 * The agent API over HTTP: SUBSCRIBE answers with a stream of LAUNCH/KILL events, and every other
 * call is a POST of its own. Kiln's agents use the WebSocket at the same path instead
 * (`ClusterSocketServer`); this stays for tools and tests that speak plain HTTP.
 */
@Controller('api/v1/agent')
export class AgentApiController {
  constructor(private readonly master: MasterService) {}

  @Post()
  call(
    @MessageBody(AgentCall) call: AgentCall,
    @Headers(STREAM_ID_HEADER) streamId: string | undefined,
    @Res() res: Response,
  ): void {
    if (call.type === 'SUBSCRIBE') {
      if (call.subscribe === undefined) throw new BadRequestException('subscribe is required');
      const agentId = call.subscribe.agentInfo.id;
      const open = (): EventStream => {
        const stream: EventStream = new HttpEventStream(res, () =>
          this.master.agentDisconnected(agentId, stream),
        );
        return stream;
      };
      const { subscribe } = call;
      subscribing(res, () => this.master.subscribeAgent(subscribe, open));
      return;
    }
    this.master.handleAgentCall(call, streamId);
    res.status(HttpStatus.ACCEPTED).end();
  }
}
