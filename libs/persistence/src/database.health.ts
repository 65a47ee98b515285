import { errorMessage, withTimeout } from '@kiln/common';
import { Inject, Injectable } from '@nestjs/common';
import { sql } from 'kysely';
import type { DatabaseConnection } from './connect';
import { DATABASE } from './database.token';

export interface DatabaseStatus {
  up: boolean;
  dialect: DatabaseConnection['dialect'];
  error?: string;
}

/** Answers whether the database takes a query now, within a deadline. */
@Injectable()
export class DatabaseHealth {
  constructor(@Inject(DATABASE) private readonly connection: DatabaseConnection) {}

  async check(timeoutMs = 2_000): Promise<DatabaseStatus> {
    const { db, dialect } = this.connection;
    try {
      await withTimeout(sql`select 1`.execute(db), timeoutMs);
      return { up: true, dialect };
    } catch (error) {
      return { up: false, dialect, error: errorMessage(error) };
    }
  }
}
