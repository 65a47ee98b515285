import { createTestDatabase, TEST_DIALECTS, type TestDatabase } from '@kiln/persistence/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SettingsRepository } from './settings.repository';

describe.each(TEST_DIALECTS)(`${SettingsRepository.name} on %s`, (dialect) => {
  let database: TestDatabase;
  let settings: SettingsRepository;

  beforeEach(async () => {
    database = await createTestDatabase(dialect);
    settings = new SettingsRepository(database);
  });
  afterEach(() => database.drop());

  it('answers undefined for a key never set', async () => {
    expect(await settings.get('framework-id')).toBeUndefined();
  });

  it('stores a value and overwrites it, each key on its own', async () => {
    await settings.set('framework-id', 'f-1');
    await settings.set('other', 'x');
    expect(await settings.get('framework-id')).toBe('f-1');

    await settings.set('framework-id', 'f-2');
    expect(await settings.get('framework-id')).toBe('f-2');
    expect(await settings.get('other')).toBe('x');
    expect(await database.db.selectFrom('settings').selectAll().execute()).toHaveLength(2);
  });

  it('stores an empty value as empty, not as missing', async () => {
    await settings.set('k', '');
    expect(await settings.get('k')).toBe('');
  });
});
