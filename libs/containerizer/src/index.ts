export * from './containerizer';
export * from './process/process.containerizer';
