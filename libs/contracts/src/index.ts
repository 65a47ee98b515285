export * from './agent.messages';
export * from './artifact.messages';
export * from './log.messages';
export * from './resources';
export * from './scheduler.messages';
export * from './task-state';
export * from './task.messages';
export * from './validation';
