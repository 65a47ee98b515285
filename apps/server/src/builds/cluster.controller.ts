import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { errorMessage } from '@kiln/common';
import { ApiErrors } from '../api-errors';
import { Allow } from '../auth/access';
import { ClusterStateClient, type AgentSummary } from './cluster-state.client';
import { AgentsResponse } from './cluster.dto';

/** The cluster as developers see it: which agents there are and how busy. */
@ApiTags('cluster')
@Controller('api/v1')
export class ClusterController {
  constructor(private readonly cluster: ClusterStateClient) {}

  @Allow.user()
  @Get('agents')
  @ApiOperation({ summary: "The cluster's agents, their containerizers and resources" })
  @ApiOkResponse({ type: AgentsResponse })
  @ApiErrors({ 503: 'The cluster master cannot be read (the error is logged under `errorId`)' })
  async agents(): Promise<{ agents: AgentSummary[] }> {
    try {
      // At most a second old: the page shows what the master says, not what it said a while ago.
      return { agents: await this.cluster.agents(1_000) };
    } catch (error) {
      throw new ServiceUnavailableException(
        `the cluster master cannot be read: ${errorMessage(error)}`,
      );
    }
  }
}
