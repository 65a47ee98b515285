import { SchedulerCall, STREAM_ID_HEADER } from '@kiln/contracts';
import { Controller, Headers, HttpStatus, Post, Res } from '@nestjs/common';
import type { Response } from 'express';
import { MasterService } from '../cluster/master.service';
import { MessageBody } from '../http/message-body.decorator';
import { HttpEventStream, subscribing, type EventStream } from '../streams/event-stream';

/** The scheduler API, modelled on Mesos v1's `/api/v1/scheduler`. */
@Controller('api/v1/scheduler')
export class SchedulerController {
  constructor(private readonly master: MasterService) {}

  /** SUBSCRIBE answers 200 with a stream of events; every other call answers 202 Accepted. */
  @Post()
  call(
    @MessageBody(SchedulerCall) call: SchedulerCall,
    @Headers(STREAM_ID_HEADER) streamId: string | undefined,
    @Res() res: Response,
  ): void {
    if (call.type === 'SUBSCRIBE' && call.subscribe !== undefined) {
      const { frameworkInfo } = call.subscribe;
      // Known once subscribed (a new framework is given its id then); a stream that closes
      // before that disconnects the framework it named, if it named one.
      // Before the stream's headers go out: a refusal is then the call's answer.
      this.master.checkSubscription(frameworkInfo);
      let frameworkId = frameworkInfo.id;
      const stream: EventStream = new HttpEventStream(res, () => {
        if (frameworkId !== undefined) this.master.frameworkDisconnected(frameworkId, stream);
      });
      subscribing(res, () => {
        frameworkId = this.master.subscribeFramework(frameworkInfo, stream);
      });
      return;
    }
    this.master.handleSchedulerCall(call, streamId);
    res.status(HttpStatus.ACCEPTED).end();
  }
}
