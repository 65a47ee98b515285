import {
  FORGES,
  RepositoriesRepository,
  type Forge,
  type NewRun,
  type Repository,
} from '@kiln/persistence';
import {
  normalizeWebhook,
  shouldCreateRun,
  verifyWebhook,
  WebhookError,
  type Headers,
  type PullRequestEvent,
  type PushEvent,
  type TriggerEvent,
} from '@kiln/scm';
import { HttpException, Injectable, NotFoundException } from '@nestjs/common';
import { RunsService } from '../runs/runs.service';
import { SecretBox } from '../secrets/secret-box';

export type WebhookOutcome =
  | { status: 202; body: { runId: string; number: number } }
  | { status: 200; body: { duplicateOf?: string; message: string } }
  | { status: 200 | 202; body: { ignored: string } };

/** How each forge names the ref of a pull request's head in the base repository. */
const PULL_REQUEST_REFS: Record<Forge, (n: number) => string> = {
  github: (n) => `refs/pull/${n}/head`,
  gitea: (n) => `refs/pull/${n}/head`,
  forgejo: (n) => `refs/pull/${n}/head`,
  gitlab: (n) => `refs/merge-requests/${n}/head`,
  bitbucket: (n) => `refs/pull-requests/${n}/from`,
};

/**
 * The webhook receiver's logic: authenticate the delivery over its raw bytes with the
 * repository's secret, then record it with its run in one transaction and queue the rest. Nothing
 * slow happens here, so the forge gets its answer in milliseconds.
 */
@Injectable()
export class WebhooksService {
  constructor(
    private readonly repositories: RepositoriesRepository,
    private readonly runs: RunsService,
    private readonly box: SecretBox,
  ) {}

  async receive(
    forgeName: string,
    headers: Headers,
    rawBody: Buffer | undefined,
    repositoryId?: string,
  ): Promise<WebhookOutcome> {
    const forge = FORGES.find((f) => f === forgeName);
    if (forge === undefined) {
      throw new NotFoundException(`unknown forge ${forgeName}: one of ${FORGES.join(', ')}`);
    }
    if (rawBody === undefined || rawBody.length === 0) {
      throw new HttpException('the webhook has no body', 400);
    }
    try {
      const event = normalizeWebhook(forge, headers, jsonOf(headers, rawBody));
      // An event Kiln does not act on (a deleted branch, a closed pull request) names no
      // repository once normalized, and nothing happens for it: answer it rather than fail it.
      if (event.kind === 'ignored' && repositoryId === undefined) {
        return { status: 202, body: { ignored: event.reason } };
      }
      const repository = await this.repositoryOf(forge, event, repositoryId);
      // No secret: verifyWebhook gets an empty one and answers 401 (opening '' would be a 500).
      const secret =
        repository.sealedWebhookSecret === undefined
          ? ''
          : this.box.open(repository.sealedWebhookSecret);
      verifyWebhook(forge, headers, rawBody, secret);
      return await this.dispatch(repository, event);
    } catch (error) {
      if (error instanceof WebhookError) throw new HttpException(error.message, error.status);
      throw error;
    }
  }

  private async repositoryOf(
    forge: Forge,
    event: TriggerEvent,
    repositoryId: string | undefined,
  ): Promise<Repository> {
    if (repositoryId !== undefined) {
      const repository = await this.repositories.findById(repositoryId);
      if (repository?.forge !== forge) {
        throw new NotFoundException(`no ${forge} repository ${repositoryId} is registered`);
      }
      return repository;
    }
    const name = 'repository' in event ? event.repository?.fullName : undefined;
    if (name === undefined) {
      throw new HttpException('the webhook names no repository (an organization hook?)', 422);
    }
    const repository = await this.repositories.findByName(forge, name);
    if (repository === undefined) {
      throw new NotFoundException(`no ${forge} repository ${name} is registered with Kiln`);
    }
    return repository;
  }

  private async dispatch(repository: Repository, event: TriggerEvent): Promise<WebhookOutcome> {
    if (event.kind === 'ping') return { status: 200, body: { ignored: 'pong' } };
    if (event.kind === 'ignored') return { status: 202, body: { ignored: event.reason } };
    if (!shouldCreateRun(event)) {
      return { status: 202, body: { ignored: 'the head commit asks to skip CI' } };
    }
    const run =
      event.kind === 'push' ? fromPush(repository, event) : fromPullRequest(repository, event);
    const result = await this.runs.create(run, {
      forge: event.forge,
      deliveryId: event.deliveryId,
      event: event.kind,
    });
    if ('run' in result) {
      return { status: 202, body: { runId: result.run.id, number: result.run.number } };
    }
    return {
      status: 200,
      body: {
        message: `delivery ${event.deliveryId} was received before`,
        ...(result.duplicateOf === undefined ? {} : { duplicateOf: result.duplicateOf }),
      },
    };
  }
}

function fromPush(repository: Repository, event: PushEvent): NewRun {
  return {
    repositoryId: repository.id,
    event: event.tag === undefined ? 'push' : 'tag',
    ref: event.ref,
    sha: event.after,
    fromFork: false,
    ...(event.branch === undefined ? {} : { branch: event.branch }),
    ...(event.tag === undefined ? {} : { tag: event.tag }),
    ...(event.commitMessage === undefined ? {} : { message: event.commitMessage }),
    ...(event.author === undefined ? {} : { author: event.author }),
    // An empty list means the forge sent none (Bitbucket): unknown, so path filters pass.
    ...(event.changedFiles.length === 0 ? {} : { changedFiles: event.changedFiles }),
  };
}

function fromPullRequest(repository: Repository, event: PullRequestEvent): NewRun {
  return {
    repositoryId: repository.id,
    event: 'pull_request',
    ref: PULL_REQUEST_REFS[event.forge](event.number),
    branch: event.headBranch,
    sha: event.headSha,
    message: event.title,
    pullRequest: event.number,
    fromFork: event.fromFork,
    ...(event.author === undefined ? {} : { author: event.author }),
  };
}

/** GitHub may post `application/x-www-form-urlencoded` with the JSON in `payload`. */
function jsonOf(headers: Headers, rawBody: Buffer): Buffer {
  const type = String(headers['content-type'] ?? '');
  if (!type.startsWith('application/x-www-form-urlencoded')) return rawBody;
  const payload = new URLSearchParams(rawBody.toString('utf8')).get('payload');
  if (payload === null) throw new WebhookError(400, 'a form-encoded webhook needs a payload field');
  return Buffer.from(payload, 'utf8');
}
