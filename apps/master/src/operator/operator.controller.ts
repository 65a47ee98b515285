import { Controller, Get, Header } from '@nestjs/common';
import { Public } from '../auth/cluster-token.guard';
import { MasterService, type ClusterState } from '../cluster/master.service';

/** The operator API: what the cluster looks like now, and its metrics. */
@Controller()
export class OperatorController {
  constructor(private readonly master: MasterService) {}

  @Get('api/v1/state')
  state(): ClusterState {
    return this.master.state();
  }

  @Public()
  @Get('metrics')
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  async metrics(): Promise<string> {
    this.master.refreshGauges();
    return this.master.metrics.registry.metrics();
  }

  @Public()
  @Get('healthz')
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }
}
