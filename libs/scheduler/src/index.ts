export * from './scheduler-client';
