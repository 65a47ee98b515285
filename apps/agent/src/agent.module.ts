import { AgentEnv } from '@kiln/config';
import { ProcessContainerizer } from '@kiln/containerizer';
import { Module, type DynamicModule } from '@nestjs/common';
import { join, resolve } from 'node:path';
import { AgentService } from './agent.service';
import { CONTAINERIZERS } from './containerizers.token';

@Module({})
export class AgentModule {
  static forRoot(env: AgentEnv): DynamicModule {
    return {
      module: AgentModule,
      providers: [
        { provide: AgentEnv, useValue: env },
        // `process` runs anywhere; cgroup and docker join it once they are fingerprinted.
        {
          provide: CONTAINERIZERS,
          useFactory: () => [
            new ProcessContainerizer({
              runtimeDir: join(resolve(env.KILN_DATA_DIR), 'runtime', 'process'),
              defaultGracePeriodMs: env.KILN_AGENT_KILL_GRACE_MS,
            }),
          ],
        },
        AgentService,
      ],
    };
  }
}
