import type { SecretInfo } from '@kiln/persistence';
import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  ParseUUIDPipe,
  Patch,
  Post,
  Put,
} from '@nestjs/common';
import { Allow } from '../auth/access';
import { CurrentPrincipal, type Principal } from '../auth/principal';
import {
  CreateRepositoryDto,
  PutSecretDto,
  UpdateRepositoryDto,
  type RepositoryView,
} from './repository.dto';
import { RepositoriesService } from './repositories.service';

const Id = (): ParameterDecorator => Param('id', new ParseUUIDPipe({ version: '4' }));

@Controller('api/v1/repositories')
export class RepositoriesController {
  constructor(private readonly repositories: RepositoriesService) {}

  @Allow.admin()
  @Post()
  create(@Body() dto: CreateRepositoryDto): Promise<RepositoryView & { webhookSecret: string }> {
    return this.repositories.create(dto);
  }

  /** The repositories the caller has a role on (all, for an administrator). */
  @Allow.user()
  @Get()
  list(@CurrentPrincipal() principal: Principal): Promise<RepositoryView[]> {
    return this.repositories.list(principal);
  }

  @Allow.repository('viewer', 'repository', 'id')
  @Get(':id')
  get(@Id() id: string): Promise<RepositoryView> {
    return this.repositories.get(id);
  }

  @Allow.admin()
  @Patch(':id')
  update(@Id() id: string, @Body() dto: UpdateRepositoryDto): Promise<RepositoryView> {
    return this.repositories.update(id, dto);
  }

  @Allow.admin()
  @Delete(':id')
  @HttpCode(204)
  delete(@Id() id: string): Promise<void> {
    return this.repositories.delete(id);
  }

  @Allow.admin()
  @Post(':id/webhook-secret')
  rotateWebhookSecret(@Id() id: string): Promise<{ webhookSecret: string }> {
    return this.repositories.rotateWebhookSecret(id);
  }

  @Allow.repository('developer', 'repository', 'id')
  @Get(':id/secrets')
  listSecrets(@Id() id: string): Promise<SecretInfo[]> {
    return this.repositories.listSecrets(id);
  }

  @Allow.repository('release-manager', 'repository', 'id')
  @Put(':id/secrets/:name')
  putSecret(
    @Id() id: string,
    @Param('name') name: string,
    @Body() dto: PutSecretDto,
  ): Promise<{ name: string; created: boolean }> {
    return this.repositories.putSecret(id, name, dto.value);
  }

  @Allow.repository('release-manager', 'repository', 'id')
  @Delete(':id/secrets/:name')
  @HttpCode(204)
  deleteSecret(@Id() id: string, @Param('name') name: string): Promise<void> {
    return this.repositories.deleteSecret(id, name);
  }
}
