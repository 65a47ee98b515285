export * from './connect';
export * from './database.health';
export * from './database.token';
export * from './migrate';
export * from './persistence.module';
export * from './repositories/repositories.repository';
export * from './schema';
