import { Inject, Injectable, Optional } from '@nestjs/common';
import type { Selectable } from 'kysely';
import { randomUUID } from 'node:crypto';
import type { DatabaseConnection } from '../connect';
import { DATABASE } from '../database.token';
import { NO_RECORD_CHANGES, RECORD_CHANGES, type RecordChanges } from '../record-changes';
import type { EnvironmentsTable } from '../schema';

/** A place a repository's runs are promoted to (staging, production), with its policy. */
export interface Environment {
  id: string;
  repositoryId: string;
  name: string;
  /** The environment a run must have been deployed to before it may come here. */
  previousId?: string;
  /** Distinct release managers, never the requester. */
  requiredApprovals: number;
  /** Branch globs; absent: any branch. */
  allowedBranches?: string[];
  approvalTimeoutMinutes: number;
  /** The promotion holding the deploy lock, if one is deploying. */
  deployingPromotionId?: string;
  createdAt: Date;
}

/** An environment's policy as an admin sets it; `null` clears an optional value. */
export interface EnvironmentPolicy {
  previousId: string | null;
  requiredApprovals: number;
  allowedBranches: string[] | null;
  approvalTimeoutMinutes: number;
}

/** Environments per repository. */
@Injectable()
export class EnvironmentsRepository {
  constructor(
    @Inject(DATABASE) private readonly connection: DatabaseConnection,
    @Optional()
    @Inject(RECORD_CHANGES)
    private readonly changes: RecordChanges = NO_RECORD_CHANGES,
  ) {}

  /** Creates the environment, or sets the policy of the one of that name. */
  async save(
    repositoryId: string,
    name: string,
    policy: EnvironmentPolicy,
    now = new Date(),
  ): Promise<Environment> {
    const values = {
      previous_id: policy.previousId,
      required_approvals: policy.requiredApprovals,
      allowed_branches:
        policy.allowedBranches === null ? null : JSON.stringify(policy.allowedBranches),
      approval_timeout_minutes: policy.approvalTimeoutMinutes,
    };
    const row = await this.connection.db
      .insertInto('environments')
      .values({
        id: randomUUID(),
        repository_id: repositoryId,
        name,
        ...values,
        deploying_promotion_id: null,
        created_at: now.toISOString(),
      })
      .onConflict((oc) => oc.columns(['repository_id', 'name']).doUpdateSet(values))
      .returningAll()
      .executeTakeFirstOrThrow();
    const environment = toEnvironment(row);
    this.changes.changed({ kind: 'environment', id: environment.id, repositoryId });
    return environment;
  }

  async findById(id: string): Promise<Environment | undefined> {
    const row = await this.connection.db
      .selectFrom('environments')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toEnvironment(row);
  }

  async findByName(repositoryId: string, name: string): Promise<Environment | undefined> {
    const row = await this.connection.db
      .selectFrom('environments')
      .selectAll()
      .where('repository_id', '=', repositoryId)
      .where('name', '=', name)
      .executeTakeFirst();
    return row && toEnvironment(row);
  }

  /**
   * A repository's environments in promotion order ({@link chainOrder}). Creation time only
   * breaks ties between chains: two environments saved in the same millisecond still come in the
   * order a run is promoted through them.
   */
  async list(repositoryId: string): Promise<Environment[]> {
    const rows = await this.connection.db
      .selectFrom('environments')
      .selectAll()
      .where('repository_id', '=', repositoryId)
      .orderBy('created_at')
      .orderBy('name')
      .execute();
    return chainOrder(rows.map(toEnvironment));
  }

  async delete(id: string): Promise<boolean> {
    const deleted = await this.connection.db
      .deleteFrom('environments')
      .where('id', '=', id)
      .returning('repository_id')
      .executeTakeFirst();
    if (deleted === undefined) return false;
    this.changes.changed({ kind: 'environment', id, repositoryId: deleted.repository_id });
    return true;
  }
}

/**
 * Environments in promotion order: each after the one it follows (`previous`), those without
 * one first, ties by the given order. Cycles cannot be saved; any left over come last.
 */
export function chainOrder<T extends { id: string; previousId?: string }>(
  environments: readonly T[],
): T[] {
  const ordered: T[] = [];
  const placed = new Set<string>();
  const ids = new Set(environments.map((environment) => environment.id));
  let progressed = true;
  while (progressed) {
    progressed = false;
    for (const environment of environments) {
      if (placed.has(environment.id)) continue;
      const previous = environment.previousId;
      if (previous === undefined || !ids.has(previous) || placed.has(previous)) {
        ordered.push(environment);
        placed.add(environment.id);
        progressed = true;
      }
    }
  }
  return [...ordered, ...environments.filter((environment) => !placed.has(environment.id))];
}

function toEnvironment(row: Selectable<EnvironmentsTable>): Environment {
  return {
    id: row.id,
    repositoryId: row.repository_id,
    name: row.name,
    ...(row.previous_id === null ? {} : { previousId: row.previous_id }),
    requiredApprovals: row.required_approvals,
    ...(row.allowed_branches === null
      ? {}
      : { allowedBranches: JSON.parse(row.allowed_branches) as string[] }),
    approvalTimeoutMinutes: row.approval_timeout_minutes,
    ...(row.deploying_promotion_id === null
      ? {}
      : { deployingPromotionId: row.deploying_promotion_id }),
    createdAt: new Date(row.created_at),
  };
}
