/** Injection token of the open, migrated `DatabaseConnection`. */
export const DATABASE = Symbol('kiln:database');
