export * from './cluster.env';
export * from './common.env';
export * from './decorators';
export * from './environments';
export * from './load-env';
export * from './server.env';
export * from './url.validators';
