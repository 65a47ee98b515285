export * from './backoff';
export * from './http-error.filter';
export * from './logging';
export * from './ndjson';
export * from './redact-url';
export * from './response-error';
export * from './run-http-app';
export * from './with-timeout';
