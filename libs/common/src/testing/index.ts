export * from './strict';
export * from './forks';
