export * from './containerizer';
export * from './process/process.containerizer';
export * from './docker/docker.containerizer';
export * from './cgroup/cgroup.containerizer';
export { detectCgroups, type CgroupDetection, type DetectCgroupsOptions } from './cgroup/detect';
// The native containerizer's OCI configuration, for benchmarks that run plain runc beside it.
export { DEFAULT_CAPABILITIES, ociConfig, type BundlePlan } from './cgroup/bundle';
export {
  DEFAULT_SECCOMP_PROFILE,
  loadDockerSeccompProfile,
  ociSeccomp,
  type DockerSeccompProfile,
} from './cgroup/seccomp';
export { IdPool, TASK_ID_RANGES, type IdPoolOptions } from './cgroup/id-pool';
export { chownTree } from './cgroup/workspace-owner';
export { prepareRootFilesystem } from './cgroup/rootfs';
export { networkHook, outputHook } from './cgroup/runc';
export { defaultRuntimeDir, makeRuntimeDir, RUNTIME_BASE } from './cgroup/runtime-dir';
