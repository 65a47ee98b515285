import { AuditRepository, RepositoriesRepository, type AuditEvent } from '@kiln/persistence';
import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Allow } from '../auth/access';
import {
  AuditPageResponse,
  ListAuditQuery,
  toAuditEventResponse,
  type AuditEventResponse,
} from './audit.dto';

@ApiTags('audit')
@Controller('api/v1/audit')
export class AuditController {
  constructor(
    private readonly events: AuditRepository,
    private readonly repositories: RepositoriesRepository,
  ) {}

  @Allow.admin()
  @Get()
  @ApiOperation({
    summary: 'Who did what, when: promotions, approvals, cancels, secret, role and token changes',
    description: 'Newest first; every filter given must hold.',
  })
  @ApiOkResponse({ type: AuditPageResponse })
  async list(
    @Query() query: ListAuditQuery,
  ): Promise<{ events: AuditEventResponse[]; next?: string }> {
    const { limit = 50, actor, ...filters } = query;
    const page = await this.events.list({
      limit,
      ...filters,
      ...(actor === undefined ? {} : { actorName: actor }),
    });
    const fullNames = await this.fullNames(page.events);
    const events = page.events.map((event) => toAuditEventResponse(event, fullNames));
    return page.next === undefined ? { events } : { events, next: page.next };
  }

  /**
   * The names the page's repositories have now, each looked up once: a page of 200 events is
   * mostly about a handful of repositories. A removed one has none (its events keep their id).
   */
  private async fullNames(events: AuditEvent[]): Promise<Map<string, string>> {
    const ids = [
      ...new Set(events.flatMap((e) => (e.repositoryId === undefined ? [] : [e.repositoryId]))),
    ];
    const found = await Promise.all(ids.map((id) => this.repositories.findById(id)));
    return new Map(found.flatMap((r) => (r === undefined ? [] : [[r.id, r.fullName] as const])));
  }
}
