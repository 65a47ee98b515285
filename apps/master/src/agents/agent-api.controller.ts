import { AgentCall, STREAM_ID_HEADER } from '@kiln/contracts';
import { BadRequestException, Controller, Headers, HttpStatus, Post, Res } from '@nestjs/common';
import type { Response } from 'express';
import { MasterService } from '../cluster/master.service';
import { MessageBody } from '../http/message-body.decorator';
import { EventStream } from '../streams/event-stream';

/** The agent API: agents subscribe for LAUNCH/KILL events and report heartbeats and statuses. */
@Controller('api/v1/agent')
export class AgentApiController {
  constructor(private readonly master: MasterService) {}

  @Post()
  call(
    @MessageBody(AgentCall) call: AgentCall,
    @Headers(STREAM_ID_HEADER) streamId: string | undefined,
    @Res() res: Response,
  ): void {
    switch (call.type) {
      case 'SUBSCRIBE': {
        if (call.subscribe === undefined) throw new BadRequestException('subscribe is required');
        const agentId = call.subscribe.agentInfo.id;
        const stream: EventStream = new EventStream(res, () =>
          this.master.agentDisconnected(agentId, stream),
        );
        this.master.subscribeAgent(call.subscribe, stream);
        return;
      }
      case 'HEARTBEAT':
        this.master.heartbeat(call.agentId, streamId);
        break;
      case 'UPDATE':
        if (call.update === undefined) throw new BadRequestException('update is required');
        this.master.agentUpdate(call.agentId, streamId, call.update);
        break;
    }
    res.status(HttpStatus.ACCEPTED).end();
  }
}
