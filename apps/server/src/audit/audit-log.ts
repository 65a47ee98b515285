import { errorMessage } from '@kiln/common';
import { AuditRepository, type AuditEvent } from '@kiln/persistence';
import { Injectable, Logger } from '@nestjs/common';
import type { Principal } from '../auth/principal';

/** Who acted: a signed-in person (a Principal will do). */
export type Actor = Pick<Principal, 'userId' | 'username'>;

/** What an audit event is about. */
export interface AuditObject {
  type: 'promotion' | 'run' | 'secret' | 'role' | 'token' | 'user' | 'environment' | 'repository';
  id: string;
  repositoryId?: string;
}

/**
 * Records who did what: promotions and their approvals, cancels, secret, role and token changes.
 * Called after the change itself has been made; a record that cannot be written is logged as an
 * error, never thrown back at a change that has already happened.
 */
@Injectable()
export class AuditLog {
  private readonly logger = new Logger(AuditLog.name);

  constructor(private readonly events: AuditRepository) {}

  /**
   * `actor` undefined: Kiln itself acted (an approval request expiring). `action` is
   * `<object type>.<past-tense verb>`; `summary` one sentence for people.
   */
  async record(
    actor: Actor | undefined,
    action: string,
    object: AuditObject,
    summary: string,
    details: Record<string, unknown> = {},
  ): Promise<AuditEvent | undefined> {
    try {
      return await this.events.record({
        ...(actor === undefined ? {} : { actorId: actor.userId, actorName: actor.username }),
        action,
        objectType: object.type,
        objectId: object.id,
        ...(object.repositoryId === undefined ? {} : { repositoryId: object.repositoryId }),
        summary,
        details,
      });
    } catch (error) {
      this.logger.error(
        `cannot record ${action} of ${object.type} ${object.id}: ${errorMessage(error)}`,
      );
      return undefined;
    }
  }
}
