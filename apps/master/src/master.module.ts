import { MasterEnv } from '@kiln/config';
import { Module, type DynamicModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AgentApiController } from './agents/agent-api.controller';
import { ClusterTokenGuard } from './auth/cluster-token.guard';
import { MasterMetrics } from './cluster/master.metrics';
import { MasterService } from './cluster/master.service';
import { OperatorController } from './operator/operator.controller';
import { SchedulerController } from './scheduler/scheduler.controller';
import { ClusterSocketServer } from './streams/cluster-socket.server';

@Module({})
export class MasterModule {
  static forRoot(env: MasterEnv): DynamicModule {
    return {
      module: MasterModule,
      controllers: [SchedulerController, AgentApiController, OperatorController],
      providers: [
        { provide: MasterEnv, useValue: env },
        { provide: MasterMetrics, useValue: new MasterMetrics() },
        { provide: APP_GUARD, useClass: ClusterTokenGuard },
        MasterService,
        ClusterSocketServer,
      ],
    };
  }
}
