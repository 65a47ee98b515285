import {
  DuplicateRepositoryError,
  EnvironmentsRepository,
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
  UnprocessableEntityException,
} from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { AccountsService } from '../accounts/accounts.service';
import { AuditLog, type Actor } from '../audit/audit-log';
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
    private readonly audit: AuditLog,
    private readonly environments: EnvironmentsRepository,
  ) {}

  /** Registers a repository; the answer is the only time its webhook secret is shown. */
  async create(
    dto: CreateRepositoryDto,
    actor: Actor,
  ): Promise<RepositoryView & { webhookSecret: string }> {
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
      await this.audit.record(
        actor,
        'repository.created',
        { type: 'repository', id: repository.id, repositoryId: repository.id },
        `${actor.username} registered ${repository.fullName}`,
        // Not the clone URL: it may carry credentials (https://user:token@host/…).
        { forge: repository.forge, fullName: repository.fullName },
      );
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

  async update(id: string, dto: UpdateRepositoryDto, actor: Actor): Promise<RepositoryView> {
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
      ...(dto.artifactRetentionDays === undefined
        ? {}
        : { artifactRetentionDays: dto.artifactRetentionDays }),
      ...(dto.artifactRetentionRuns === undefined
        ? {}
        : { artifactRetentionRuns: dto.artifactRetentionRuns }),
    });
    if (updated === undefined) throw new NotFoundException(`repository ${id} does not exist`);
    // The names of the fields only: one of them (the forge token) is a secret.
    const fields = Object.entries(dto)
      .filter(([, value]) => value !== undefined)
      .map(([field]) => field);
    await this.audit.record(
      actor,
      'repository.updated',
      { type: 'repository', id, repositoryId: id },
      `${actor.username} changed ${fields.join(', ') || 'nothing'} of ${updated.fullName}`,
      { fields },
    );
    return toView(updated);
  }

  /** A new webhook secret, shown once; the old one stops working at once. */
  async rotateWebhookSecret(id: string, actor: Actor): Promise<{ webhookSecret: string }> {
    const repository = await this.find(id);
    const webhookSecret = randomBytes(32).toString('hex');
    await this.repositories.setWebhookSecret(id, this.box.seal(webhookSecret));
    await this.audit.record(
      actor,
      'repository.webhook-secret-rotated',
      { type: 'repository', id, repositoryId: id },
      `${actor.username} rotated the webhook secret of ${repository.fullName}`,
    );
    return { webhookSecret };
  }

  async delete(id: string, actor: Actor): Promise<void> {
    const repository = await this.find(id);
    if (!(await this.repositories.delete(id))) {
      throw new NotFoundException(`repository ${id} does not exist`);
    }
    await this.audit.record(
      actor,
      'repository.deleted',
      { type: 'repository', id, repositoryId: id },
      `${actor.username} removed ${repository.fullName}`,
      { forge: repository.forge, fullName: repository.fullName },
    );
  }

  async putSecret(
    id: string,
    name: string,
    value: string,
    actor: Actor,
    environments?: readonly string[],
  ): Promise<{ name: string; created: boolean }> {
    checkSecretName(name);
    const repository = await this.find(id);
    if (environments !== undefined) {
      // A misspelt scope would withhold the secret from every deployment, silently.
      const known = new Set((await this.environments.list(id)).map((e) => e.name));
      const unknown = environments.filter((environment) => !known.has(environment));
      if (unknown.length > 0) {
        throw new UnprocessableEntityException(
          `environments: ${repository.fullName} has no environment ${unknown.join(', ')}` +
            (known.size === 0 ? ' (it has none yet)' : ` (it has ${[...known].join(', ')})`),
        );
      }
    }
    const scope = environments === undefined ? undefined : [...new Set(environments)];
    const existed = await this.secrets.put(id, name, this.box.seal(value), scope);
    // The name only, never the value.
    await this.audit.record(
      actor,
      'secret.set',
      { type: 'secret', id: name, repositoryId: id },
      `${actor.username} ${existed ? 'replaced' : 'added'} secret ${name} of ${repository.fullName}` +
        (scope === undefined ? '' : `, for ${scope.join(', ')} only`),
      { name, created: !existed, ...(scope === undefined ? {} : { environments: scope }) },
    );
    return { name, created: !existed };
  }

  async listSecrets(id: string): Promise<SecretInfo[]> {
    await this.find(id);
    return this.secrets.list(id);
  }

  async deleteSecret(id: string, name: string, actor: Actor): Promise<void> {
    checkSecretName(name);
    const repository = await this.find(id);
    if (!(await this.secrets.delete(id, name))) {
      throw new NotFoundException(`repository ${id} has no secret ${name}`);
    }
    await this.audit.record(
      actor,
      'secret.deleted',
      { type: 'secret', id: name, repositoryId: id },
      `${actor.username} removed secret ${name} of ${repository.fullName}`,
      { name },
    );
  }
}

function checkSecretName(name: string): void {
  if (!SECRET_NAME.test(name)) {
    throw new BadRequestException(
      `secret name ${JSON.stringify(name.slice(0, 140))} must match ${SECRET_NAME.source} (an environment variable name)`,
    );
  }
}
