import { Inject, Injectable } from '@nestjs/common';
import type { DatabaseConnection } from '../connect';
import { DATABASE } from '../database.token';

/** Small named values a process must remember across restarts. */
@Injectable()
export class SettingsRepository {
  constructor(@Inject(DATABASE) private readonly connection: DatabaseConnection) {}

  async get(key: string): Promise<string | undefined> {
    const row = await this.connection.db
      .selectFrom('settings')
      .select('value')
      .where('key', '=', key)
      .executeTakeFirst();
    return row?.value;
  }

  async set(key: string, value: string): Promise<void> {
    await this.connection.db
      .insertInto('settings')
      .values({ key, value })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
      .execute();
  }
}
