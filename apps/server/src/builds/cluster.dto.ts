import { ApiProperty } from '@nestjs/swagger';
import { ResourcesResponse } from '../resources.dto';
import type { AgentSummary } from './cluster-state.client';

export class AgentResponse implements AgentSummary {
  @ApiProperty()
  id!: string;

  @ApiProperty({ example: 'build-1' })
  hostname!: string;

  @ApiProperty({ example: 'ACTIVE' })
  state!: string;

  @ApiProperty({ type: [String], example: ['docker', 'cgroup'] })
  containerizers!: string[];

  @ApiProperty({ type: ResourcesResponse })
  total!: ResourcesResponse;

  @ApiProperty({ type: ResourcesResponse, description: 'What is not in use now.' })
  free!: ResourcesResponse;
}

export class AgentsResponse {
  @ApiProperty({ type: [AgentResponse] })
  agents!: AgentResponse[];
}
