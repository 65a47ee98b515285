import type { SecretInfo } from '@kiln/persistence';
import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Put } from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { ApiErrors } from '../api-errors';
import { Allow } from '../auth/access';
import { UuidParam } from '../auth/uuid-param';
import { CurrentPrincipal, type Principal } from '../auth/principal';
import {
  CreatedRepositoryResponse,
  CreateRepositoryDto,
  PutSecretDto,
  PutSecretResponse,
  RepositoryResponse,
  SecretResponse,
  UpdateRepositoryDto,
  WebhookSecretResponse,
  type RepositoryView,
} from './repository.dto';
import { RepositoriesService } from './repositories.service';

const Id = (): ParameterDecorator => UuidParam('id');

@ApiTags('repositories')
@Controller('api/v1/repositories')
export class RepositoriesController {
  constructor(private readonly repositories: RepositoriesService) {}

  @Allow.admin()
  @Post()
  @ApiOperation({ summary: 'Register a repository' })
  @ApiCreatedResponse({ type: CreatedRepositoryResponse })
  @ApiErrors({ 409: 'The repository is registered already' })
  create(
    @CurrentPrincipal() principal: Principal,
    @Body() dto: CreateRepositoryDto,
  ): Promise<RepositoryView & { webhookSecret: string }> {
    return this.repositories.create(dto, principal);
  }

  @Allow.user()
  @Get()
  @ApiOperation({
    summary: 'The repositories the caller has a role on (all, for an administrator)',
  })
  @ApiOkResponse({ type: [RepositoryResponse] })
  list(@CurrentPrincipal() principal: Principal): Promise<RepositoryView[]> {
    return this.repositories.list(principal);
  }

  @Allow.repository('viewer', 'repository', 'id')
  @Get(':id')
  @ApiOperation({ summary: 'A repository' })
  @ApiOkResponse({ type: RepositoryResponse })
  get(@Id() id: string): Promise<RepositoryView> {
    return this.repositories.get(id);
  }

  @Allow.admin()
  @Patch(':id')
  @ApiOperation({ summary: 'Change a repository' })
  @ApiOkResponse({ type: RepositoryResponse })
  @ApiErrors({ 404: 'The repository does not exist' })
  update(
    @CurrentPrincipal() principal: Principal,
    @Id() id: string,
    @Body() dto: UpdateRepositoryDto,
  ): Promise<RepositoryView> {
    return this.repositories.update(id, dto, principal);
  }

  @Allow.admin()
  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Remove a repository, its runs and secrets' })
  @ApiNoContentResponse({ description: 'Removed' })
  @ApiErrors({ 404: 'The repository does not exist' })
  delete(@CurrentPrincipal() principal: Principal, @Id() id: string): Promise<void> {
    return this.repositories.delete(id, principal);
  }

  @Allow.admin()
  @Post(':id/webhook-secret')
  @ApiOperation({ summary: 'A new webhook secret, shown once' })
  @ApiCreatedResponse({ type: WebhookSecretResponse })
  @ApiErrors({ 404: 'The repository does not exist' })
  rotateWebhookSecret(
    @CurrentPrincipal() principal: Principal,
    @Id() id: string,
  ): Promise<{ webhookSecret: string }> {
    return this.repositories.rotateWebhookSecret(id, principal);
  }

  @Allow.repository('developer', 'repository', 'id')
  @Get(':id/secrets')
  @ApiOperation({ summary: "A repository's build secrets: names only" })
  @ApiOkResponse({ type: [SecretResponse] })
  listSecrets(@Id() id: string): Promise<SecretInfo[]> {
    return this.repositories.listSecrets(id);
  }

  @Allow.repository('release-manager', 'repository', 'id')
  @Put(':id/secrets/:name')
  @ApiOperation({
    summary: 'Create or replace a build secret (sealed at rest)',
    description:
      'With `environments`, only deployments to those environments get it (after their policy ' +
      'and approvals); replacing a secret replaces its environments too.',
  })
  @ApiOkResponse({ type: PutSecretResponse })
  @ApiErrors({
    400: 'The name is not an environment variable name',
    422: 'An environment the repository does not have',
  })
  putSecret(
    @CurrentPrincipal() principal: Principal,
    @Id() id: string,
    @Param('name') name: string,
    @Body() dto: PutSecretDto,
  ): Promise<{ name: string; created: boolean }> {
    return this.repositories.putSecret(id, name, dto.value, principal, dto.environments);
  }

  @Allow.repository('release-manager', 'repository', 'id')
  @Delete(':id/secrets/:name')
  @HttpCode(204)
  @ApiOperation({ summary: 'Remove a build secret' })
  @ApiNoContentResponse({ description: 'Removed' })
  @ApiErrors({
    400: 'The name is not an environment variable name',
    404: 'The repository has no such secret',
  })
  deleteSecret(
    @CurrentPrincipal() principal: Principal,
    @Id() id: string,
    @Param('name') name: string,
  ): Promise<void> {
    return this.repositories.deleteSecret(id, name, principal);
  }
}
