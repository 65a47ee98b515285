export * from './containerizer';
export * from './process/process.containerizer';
export * from './docker/docker.containerizer';
export * from './cgroup/cgroup.containerizer';
export { detectCgroups, type CgroupDetection, type DetectCgroupsOptions } from './cgroup/detect';
