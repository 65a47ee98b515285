import { Inject, Injectable } from '@nestjs/common';
import type { Selectable } from 'kysely';
import { randomUUID } from 'node:crypto';
import type { DatabaseConnection } from '../connect';
import { DATABASE } from '../database.token';
import type { AuditEventsTable } from '../schema';

/** Who did what to which object, when: one line of the audit log. */
export interface AuditEvent {
  id: string;
  at: Date;
  /** Absent when Kiln itself acted (a promotion expiring). */
  actorId?: string;
  /** The actor's name then: the record outlives renames and deletions. */
  actorName?: string;
  /** `<object type>.<verb in the past>`: `promotion.approved`, `secret.set`. */
  action: string;
  objectType: string;
  objectId: string;
  repositoryId?: string;
  /** One sentence for people. */
  summary: string;
  details: Record<string, unknown>;
}

export type NewAuditEvent = Omit<AuditEvent, 'id' | 'at'>;

export interface AuditQuery {
  limit: number;
  /** An event id: only events older than it (the `next` of the previous page). */
  before?: string;
  repositoryId?: string;
  action?: string;
  actorName?: string;
}

export interface AuditPage {
  events: AuditEvent[];
  next?: string;
}

/** The audit log: append-only, newest first when read. */
@Injectable()
export class AuditRepository {
  constructor(@Inject(DATABASE) private readonly connection: DatabaseConnection) {}

  async record(event: NewAuditEvent, now = new Date()): Promise<AuditEvent> {
    const recorded: AuditEvent = { ...event, id: randomUUID(), at: now };
    await this.connection.db
      .insertInto('audit_events')
      .values({
        id: recorded.id,
        at: now.toISOString(),
        actor_id: event.actorId ?? null,
        actor_name: event.actorName ?? null,
        action: event.action,
        object_type: event.objectType,
        object_id: event.objectId,
        repository_id: event.repositoryId ?? null,
        summary: event.summary,
        details: JSON.stringify(event.details),
      })
      .execute();
    return recorded;
  }

  async list(query: AuditQuery): Promise<AuditPage> {
    let select = this.connection.db
      .selectFrom('audit_events')
      .selectAll()
      .orderBy('at', 'desc')
      .orderBy('id', 'desc')
      .limit(query.limit + 1);
    if (query.before !== undefined) {
      const cursor = await this.connection.db
        .selectFrom('audit_events')
        .select(['at', 'id'])
        .where('id', '=', query.before)
        .executeTakeFirst();
      if (cursor === undefined) return { events: [] };
      select = select.where((eb) =>
        eb.or([
          eb('at', '<', cursor.at),
          eb.and([eb('at', '=', cursor.at), eb('id', '<', cursor.id)]),
        ]),
      );
    }
    if (query.repositoryId !== undefined) {
      select = select.where('repository_id', '=', query.repositoryId);
    }
    if (query.action !== undefined) select = select.where('action', '=', query.action);
    if (query.actorName !== undefined) select = select.where('actor_name', '=', query.actorName);
    const rows = await select.execute();
    const events = rows.slice(0, query.limit).map(toAuditEvent);
    const last = events.at(-1);
    return rows.length > query.limit && last !== undefined ? { events, next: last.id } : { events };
  }
}

function toAuditEvent(row: Selectable<AuditEventsTable>): AuditEvent {
  return {
    id: row.id,
    at: new Date(row.at),
    ...(row.actor_id === null ? {} : { actorId: row.actor_id }),
    ...(row.actor_name === null ? {} : { actorName: row.actor_name }),
    action: row.action,
    objectType: row.object_type,
    objectId: row.object_id,
    ...(row.repository_id === null ? {} : { repositoryId: row.repository_id }),
    summary: row.summary,
    details: JSON.parse(row.details) as Record<string, unknown>,
  };
}
