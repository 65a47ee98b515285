import { Body, Controller, Delete, Get, HttpCode, Post, Put, Query } from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import { ApiErrors } from '../api-errors';
import { Idempotent } from '../idempotency/idempotent';
import { Allow } from '../auth/access';
import { CurrentPrincipal, type Principal } from '../auth/principal';
import { UuidParam } from '../auth/uuid-param';
import { EnvironmentNameParam } from './environment-name.param';
import { EnvironmentsService } from './environments.service';
import { PromotionsService } from './promotions.service';
import {
  BoardQuery,
  DecisionDto,
  EnvironmentBoardEntryResponse,
  EnvironmentResponse,
  HistoryQuery,
  PromotionResponse,
  RequestPromotionDto,
  SaveEnvironmentDto,
} from './releases.dto';

const NAME = { name: 'name', description: 'The environment name', example: 'production' };

@ApiTags('releases')
@Controller('api/v1')
export class ReleasesController {
  constructor(
    private readonly environments: EnvironmentsService,
    private readonly promotions: PromotionsService,
  ) {}

  @Allow.repository('viewer', 'repository', 'id')
  @Get('repositories/:id/environments')
  @ApiOperation({
    summary: "A repository's environments board",
    description:
      'Each environment in promotion order: what is deployed there, what waits (approvals, ' +
      'the deploy lock), and which runs may be promoted there next; with `run`, whether that ' +
      'run may be promoted to each (the promote dialog offers only those).',
  })
  @ApiOkResponse({ type: [EnvironmentBoardEntryResponse] })
  @ApiErrors({ 404: '`run` names no run of the repository' })
  board(
    @UuidParam('id') id: string,
    @Query() query: BoardQuery,
  ): Promise<EnvironmentBoardEntryResponse[]> {
    return this.environments.board(id, query.run);
  }

  @Allow.admin()
  @Put('repositories/:id/environments/:name')
  @ApiOperation({
    summary: 'Create an environment or change its policy (unset fields: defaults, or as they were)',
  })
  @ApiParam(NAME)
  @ApiOkResponse({ type: EnvironmentResponse })
  @ApiErrors({ 422: '`previous` names no environment of the repository, or closes a cycle' })
  save(
    @UuidParam('id') id: string,
    @EnvironmentNameParam() name: string,
    @Body() dto: SaveEnvironmentDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<EnvironmentResponse> {
    return this.environments.save(id, name, dto, principal);
  }

  @Allow.admin()
  @Delete('repositories/:id/environments/:name')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete an environment and its history' })
  @ApiParam(NAME)
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiErrors({
    404: 'No such environment',
    409: 'Another environment follows it, or a promotion to it has not ended',
  })
  async delete(
    @UuidParam('id') id: string,
    @EnvironmentNameParam() name: string,
    @CurrentPrincipal() principal: Principal,
  ): Promise<void> {
    await this.environments.delete(id, name, principal);
  }

  @Allow.repository('viewer', 'repository', 'id')
  @Get('repositories/:id/environments/:name/deployments')
  @ApiOperation({ summary: "An environment's history: every promotion to it, newest first" })
  @ApiParam(NAME)
  @ApiOkResponse({ type: [PromotionResponse] })
  @ApiErrors({ 404: 'No such environment' })
  history(
    @UuidParam('id') id: string,
    @EnvironmentNameParam() name: string,
    @Query() query: HistoryQuery,
  ): Promise<PromotionResponse[]> {
    return this.environments.history(id, name, query.limit ?? 20, query.before);
  }

  @Allow.repository('release-manager', 'run', 'runId')
  @Post('runs/:runId/promotions')
  @ApiOperation({
    summary: 'Promote a run that passed to an environment',
    description:
      "Checks the environment's policy (a successful build, an allowed branch, deployed to the " +
      'previous environment first), then waits for approvals if it needs any, then for the ' +
      "environment's deploy lock; a `promote` run on the run's commit then deploys its artifacts. " +
      'Promoting a run older than what is deployed is a rollback.',
  })
  @ApiCreatedResponse({ type: PromotionResponse })
  @ApiErrors({
    409: 'The run is already being promoted to that environment',
    422: 'The policy refuses it (the message says which rule), or no such environment',
    503: 'The run queue (Redis) is unavailable: no promotion was requested',
  })
  @Idempotent()
  request(
    @UuidParam('runId') runId: string,
    @Body() dto: RequestPromotionDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<PromotionResponse> {
    return this.promotions.request(runId, dto.environment, dto.comment, principal);
  }

  @Allow.repository('viewer', 'promotion', 'promotionId')
  @Get('promotions/:promotionId')
  @ApiOperation({ summary: 'A promotion: its state, approvals and deploy run' })
  @ApiOkResponse({ type: PromotionResponse })
  get(@UuidParam('promotionId') promotionId: string): Promise<PromotionResponse> {
    return this.promotions.view(promotionId);
  }

  @Allow.repository('release-manager', 'promotion', 'promotionId')
  @Post('promotions/:promotionId/approve')
  @HttpCode(200)
  @ApiOperation({ summary: "Approve a promotion (another release manager's, not your own)" })
  @ApiOkResponse({ type: PromotionResponse })
  @ApiErrors({
    403: 'You requested it: someone else must approve',
    409: 'It is not awaiting approval, or you decided already',
    503: 'The run queue (Redis) is unavailable: no approval was recorded',
  })
  approve(
    @UuidParam('promotionId') promotionId: string,
    @Body() dto: DecisionDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<PromotionResponse> {
    return this.promotions.approve(promotionId, dto.comment, principal);
  }

  @Allow.repository('release-manager', 'promotion', 'promotionId')
  @Post('promotions/:promotionId/reject')
  @HttpCode(200)
  @ApiOperation({ summary: 'Reject a promotion: it ends `rejected`' })
  @ApiOkResponse({ type: PromotionResponse })
  @ApiErrors({
    403: 'You requested it: cancel it instead',
    409: 'It is not awaiting approval, or you decided already',
  })
  reject(
    @UuidParam('promotionId') promotionId: string,
    @Body() dto: DecisionDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<PromotionResponse> {
    return this.promotions.reject(promotionId, dto.comment, principal);
  }

  @Allow.repository('release-manager', 'promotion', 'promotionId')
  @Post('promotions/:promotionId/cancel')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Cancel a promotion',
    description: 'One awaiting approval or the lock ends at once; a deploying one cancels its run.',
  })
  @ApiOkResponse({ type: PromotionResponse })
  @ApiErrors({ 409: 'It has already ended' })
  cancel(
    @UuidParam('promotionId') promotionId: string,
    @CurrentPrincipal() principal: Principal,
  ): Promise<PromotionResponse> {
    return this.promotions.cancel(promotionId, principal);
  }

  @Allow.user()
  @Get('approvals')
  @ApiOperation({
    summary: 'Your approvals inbox',
    description:
      'Promotions awaiting approval on repositories you are a release manager of (administrators: all), asked by someone else, that you have not decided on; oldest first.',
  })
  @ApiOkResponse({ type: [PromotionResponse] })
  inbox(@CurrentPrincipal() principal: Principal): Promise<PromotionResponse[]> {
    return this.promotions.inbox(principal);
  }
}
