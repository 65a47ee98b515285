import { AccountsRepository, RepositoriesRepository } from '@kiln/persistence';
import { BadRequestException, Injectable, NotFoundException } from '@nestjs/common';
import { AccountsService } from '../accounts/accounts.service';
import type { Principal } from '../auth/principal';
import { ResourceResolver } from '../auth/resource-resolver';
import type { LiveSink, LiveWatch } from './live-hub';
import { LiveHub } from './live-hub';
import { parseTopics, topicName, type Topic } from './live-topics';

/** Opens a live page's stream: checks what it asks to watch, then hands it to the hub. */
@Injectable()
export class LiveEventsService {
  constructor(
    private readonly hub: LiveHub,
    private readonly resources: ResourceResolver,
    private readonly repositories: RepositoriesRepository,
    private readonly accounts: AccountsRepository,
    private readonly accountsService: AccountsService,
  ) {}

  /**
   * The watch `principal` may have on `rawTopics`. Bad topics are a 400 naming the bad one; a run
   * or repository the caller has no role on does not exist for them (404), as on its own route.
   */
  async watch(principal: Principal, rawTopics: string): Promise<LiveWatch> {
    const parsed = parseTopics(rawTopics);
    if ('error' in parsed) throw new BadRequestException(parsed.error);
    for (const topic of parsed.topics) await this.authorize(principal, topic);
    return {
      topics: new Set(parsed.topics.map(topicName)),
      visible: await this.accountsService.visibleRepositories(principal),
    };
  }

  follow(sink: LiveSink, watch: LiveWatch, lastEventId: string | undefined): Promise<void> {
    return this.hub.attach(sink, watch, lastEventId);
  }

  private async authorize(principal: Principal, topic: Topic): Promise<void> {
    if (!('id' in topic)) return;
    const resource = topic.kind === 'run' ? 'run' : 'repository';
    const repositoryId =
      resource === 'run'
        ? await this.resources.repositoryOf('run', topic.id)
        : (await this.repositories.findById(topic.id))?.id;
    const missing = new NotFoundException(`${resource} ${topic.id} does not exist`);
    if (repositoryId === undefined) throw missing;
    if (principal.isAdmin) return;
    // Every role may watch: viewer is the least.
    if ((await this.accounts.roleOf(repositoryId, principal.userId)) === undefined) throw missing;
  }
}
