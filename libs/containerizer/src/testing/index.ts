export * from './containerizer-contract';
export * from './helpers';
export * from './other-agent';
export * from './hostile-build';
