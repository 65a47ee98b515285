export * from './strict';
