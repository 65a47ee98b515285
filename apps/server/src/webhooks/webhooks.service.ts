import {
  FORGES,
  RepositoriesRepository,
  type Forge,
  type NewRun,
  type Repository,
} from '@kiln/persistence';
import {
  normalizeDelivery,
  readDelivery,
  shouldCreateRun,
  verifyWebhook,
  WebhookError,
  type Headers,
  type PullRequestEvent,
  type PushEvent,
  type TriggerEvent,
  type WebhookDelivery,
} from '@kiln/scm';
import { HttpException, Injectable, NotFoundException } from '@nestjs/common';
import { RunsService } from '../runs/runs.service';
import { TriggerService } from '../runs/trigger.service';
import { SecretBox } from '../secrets/secret-box';
import { IntakePressureService } from '../intake/intake-pressure.service';

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
    private readonly pressure: IntakePressureService,
    private readonly trigger: TriggerService,
  ) {}

  async receive(
    forgeName: string,
    headers: Headers,
    rawBody: Buffer | undefined,
    repositoryId?: string,
  ): Promise<WebhookOutcome> {
    this.pressure.webhook();
    const forge = FORGES.find((f) => f === forgeName);
    if (forge === undefined) {
      throw new NotFoundException(`unknown forge ${forgeName}: one of ${FORGES.join(', ')}`);
    }
    try {
      const delivery = readDelivery(forge, headers, rawBody);
      const repository = await this.repositoryOf(delivery, repositoryId);
      if (repository === undefined) return unaddressed(normalizeDelivery(delivery));
      // Every delivery for a registered repository is verified before anything is made of it,
      // events Kiln ignores included: a hook with the wrong secret must look broken on the forge.
      // No secret: verifyWebhook gets an empty one and answers 401 (opening '' would be a 500).
      const secret =
        repository.sealedWebhookSecret === undefined
          ? ''
          : this.box.open(repository.sealedWebhookSecret);
      verifyWebhook(forge, headers, rawBody ?? Buffer.alloc(0), secret);
      return await this.dispatch(repository, normalizeDelivery(delivery));
    } catch (error) {
      if (error instanceof WebhookError) throw new HttpException(error.message, error.status);
      throw error;
    }
  }

  /** The repository the hook URL or the payload names; undefined when neither names one. */
  private async repositoryOf(
    delivery: WebhookDelivery,
    repositoryId: string | undefined,
  ): Promise<Repository | undefined> {
    const { forge, repositoryName } = delivery;
    if (repositoryId !== undefined) {
      const repository = await this.repositories.findById(repositoryId);
      if (repository?.forge !== forge) {
        throw new NotFoundException(`no ${forge} repository ${repositoryId} is registered`);
      }
      return repository;
    }
    if (repositoryName === undefined) return undefined;
    const repository = await this.repositories.findByName(forge, repositoryName);
    if (repository === undefined) {
      throw new NotFoundException(
        `no ${forge} repository ${repositoryName} is registered with Kiln`,
      );
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
      // The commit is on its way into the mirror while the run's trigger is queued.
      this.trigger.readAhead(repository, result.run);
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

/**
 * A delivery that names no repository (an organization hook's): there is no secret to check it
 * with, and nothing to build, so nothing happens. A ping says so; an event Kiln would act on
 * must name its repository.
 */
function unaddressed(event: TriggerEvent): WebhookOutcome {
  switch (event.kind) {
    case 'ping':
      return {
        status: 200,
        body: {
          ignored:
            'pong: this hook names no repository (an organization hook?); Kiln builds the ' +
            'registered repositories its events name, each checked with that repository’s secret',
        },
      };
    case 'ignored':
      return { status: 202, body: { ignored: `${event.reason}, for no repository` } };
    case 'push':
    case 'pull_request':
      throw new HttpException('the webhook names no repository', 422);
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
