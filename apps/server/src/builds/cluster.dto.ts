import { ApiProperty } from '@nestjs/swagger';
import type { AgentSummary } from './cluster-state.client';

export class AgentResourcesResponse {
  @ApiProperty({ example: 4 })
  cpus!: number;

  @ApiProperty({ description: 'Memory, in MiB.', example: 8192 })
  mem!: number;
}

export class AgentResponse implements AgentSummary {
  @ApiProperty()
  id!: string;

  @ApiProperty({ example: 'build-1' })
  hostname!: string;

  @ApiProperty({ example: 'ACTIVE' })
  state!: string;

  @ApiProperty({ type: [String], example: ['docker', 'cgroup'] })
  containerizers!: string[];

  @ApiProperty({ type: AgentResourcesResponse })
  total!: AgentResourcesResponse;

  @ApiProperty({ type: AgentResourcesResponse, description: 'What is not in use now.' })
  free!: AgentResourcesResponse;
}

export class AgentsResponse {
  @ApiProperty({ type: [AgentResponse] })
  agents!: AgentResponse[];
}
