import {
  DuplicateRepositoryError,
  RepositoriesRepository,
  RepositorySecretsRepository,
  type Repository,
  type SecretInfo,
} from '@kiln/persistence';
import {
  BadRequestException,
  ConflictException,
  Injectable,
  NotFoundException,
} from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { AccountsService } from '../accounts/accounts.service';
import type { Principal } from '../auth/principal';
import { SecretBox } from '../secrets/secret-box';
import {
  SECRET_NAME,
  toView,
  type CreateRepositoryDto,
  type RepositoryView,
  type UpdateRepositoryDto,
} from './repository.dto';

/** Registering repositories and keeping their secrets: sealed at rest, never shown again. */
@Injectable()
export class RepositoriesService {
  constructor(
    private readonly repositories: RepositoriesRepository,
    private readonly secrets: RepositorySecretsRepository,
    private readonly box: SecretBox,
    private readonly accounts: AccountsService,
  ) {}

  /** Registers a repository; the answer is the only time its webhook secret is shown. */
  async create(dto: CreateRepositoryDto): Promise<RepositoryView & { webhookSecret: string }> {
    const webhookSecret = randomBytes(32).toString('hex');
    try {
      const repository = await this.repositories.create({
        forge: dto.forge,
        fullName: dto.fullName,
        cloneUrl: dto.cloneUrl,
        defaultBranch: dto.defaultBranch ?? 'main',
        sealedWebhookSecret: this.box.seal(webhookSecret),
        ...(dto.forgeToken === undefined
          ? {}
          : { sealedForgeToken: this.box.seal(dto.forgeToken) }),
        ...(dto.apiUrl === undefined ? {} : { apiUrl: dto.apiUrl }),
        ...(dto.autoCancelPullRequests === undefined
          ? {}
          : { autoCancelPullRequests: dto.autoCancelPullRequests }),
      });
      return { ...toView(repository), webhookSecret };
    } catch (error) {
      if (error instanceof DuplicateRepositoryError) throw new ConflictException(error.message);
      throw error;
    }
  }

  async list(principal: Principal): Promise<RepositoryView[]> {
    const visible = await this.accounts.visibleRepositories(principal);
    const all = await this.repositories.list();
    return all.filter((r) => visible === undefined || visible.has(r.id)).map(toView);
  }

  async get(id: string): Promise<RepositoryView> {
    return toView(await this.find(id));
  }

  async find(id: string): Promise<Repository> {
    const repository = await this.repositories.findById(id);
    if (repository === undefined) throw new NotFoundException(`repository ${id} does not exist`);
    return repository;
  }

  async update(id: string, dto: UpdateRepositoryDto): Promise<RepositoryView> {
    await this.find(id);
    const updated = await this.repositories.update(id, {
      ...(dto.defaultBranch === undefined ? {} : { defaultBranch: dto.defaultBranch }),
      ...(dto.forgeToken === undefined
        ? {}
        : { sealedForgeToken: dto.forgeToken === null ? null : this.box.seal(dto.forgeToken) }),
      ...(dto.apiUrl === undefined ? {} : { apiUrl: dto.apiUrl }),
      ...(dto.autoCancelPullRequests === undefined
        ? {}
        : { autoCancelPullRequests: dto.autoCancelPullRequests }),
    });
    if (updated === undefined) throw new NotFoundException(`repository ${id} does not exist`);
    return toView(updated);
  }

  /** A new webhook secret, shown once; the old one stops working at once. */
  async rotateWebhookSecret(id: string): Promise<{ webhookSecret: string }> {
    await this.find(id);
    const webhookSecret = randomBytes(32).toString('hex');
    await this.repositories.setWebhookSecret(id, this.box.seal(webhookSecret));
    return { webhookSecret };
  }

  async delete(id: string): Promise<void> {
    if (!(await this.repositories.delete(id))) {
      throw new NotFoundException(`repository ${id} does not exist`);
    }
  }

  async putSecret(
    id: string,
    name: string,
    value: string,
  ): Promise<{ name: string; created: boolean }> {
    checkSecretName(name);
    await this.find(id);
    const existed = await this.secrets.put(id, name, this.box.seal(value));
    return { name, created: !existed };
  }

  async listSecrets(id: string): Promise<SecretInfo[]> {
    await this.find(id);
    return this.secrets.list(id);
  }

  async deleteSecret(id: string, name: string): Promise<void> {
    checkSecretName(name);
    await this.find(id);
    if (!(await this.secrets.delete(id, name))) {
      throw new NotFoundException(`repository ${id} has no secret ${name}`);
    }
  }
}

function checkSecretName(name: string): void {
  if (!SECRET_NAME.test(name)) {
    throw new BadRequestException(
      `secret name ${JSON.stringify(name.slice(0, 140))} must match ${SECRET_NAME.source} (an environment variable name)`,
    );
  }
}
