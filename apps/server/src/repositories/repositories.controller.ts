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

  @Post()
  create(@Body() dto: CreateRepositoryDto): Promise<RepositoryView & { webhookSecret: string }> {
    return this.repositories.create(dto);
  }

  @Get()
  list(): Promise<RepositoryView[]> {
    return this.repositories.list();
  }

  @Get(':id')
  get(@Id() id: string): Promise<RepositoryView> {
    return this.repositories.get(id);
  }

  @Patch(':id')
  update(@Id() id: string, @Body() dto: UpdateRepositoryDto): Promise<RepositoryView> {
    return this.repositories.update(id, dto);
  }

  @Delete(':id')
  @HttpCode(204)
  delete(@Id() id: string): Promise<void> {
    return this.repositories.delete(id);
  }

  @Post(':id/webhook-secret')
  rotateWebhookSecret(@Id() id: string): Promise<{ webhookSecret: string }> {
    return this.repositories.rotateWebhookSecret(id);
  }

  @Get(':id/secrets')
  listSecrets(@Id() id: string): Promise<SecretInfo[]> {
    return this.repositories.listSecrets(id);
  }

  @Put(':id/secrets/:name')
  putSecret(
    @Id() id: string,
    @Param('name') name: string,
    @Body() dto: PutSecretDto,
  ): Promise<{ name: string; created: boolean }> {
    return this.repositories.putSecret(id, name, dto.value);
  }

  @Delete(':id/secrets/:name')
  @HttpCode(204)
  deleteSecret(@Id() id: string, @Param('name') name: string): Promise<void> {
    return this.repositories.deleteSecret(id, name);
  }
}
