import { AgentEnv } from '@kiln/config';
import type { Containerizer } from '@kiln/containerizer';
import { Module, type DynamicModule } from '@nestjs/common';
import { AGENT_ID, loadAgentId } from './agent-identity';
import { AgentService } from './agent.service';
import { CONTAINERIZERS } from './containerizers.token';
import { workingContainerizers } from './fingerprint/containerizers';

@Module({})
export class AgentModule {
  static forRoot(env: AgentEnv): DynamicModule {
    return {
      module: AgentModule,
      providers: [
        { provide: AgentEnv, useValue: env },
        { provide: AGENT_ID, useFactory: () => loadAgentId(env.KILN_DATA_DIR) },
        {
          provide: CONTAINERIZERS,
          inject: [AGENT_ID],
          useFactory: (agentId: string): Promise<Containerizer[]> =>
            workingContainerizers(env, agentId),
        },
        AgentService,
      ],
    };
  }
}
