export * from './http-error.filter';
export * from './logging';
export * from './redact-url';
export * from './run-http-app';
export * from './with-timeout';
