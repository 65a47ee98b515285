import {
  DEFAULT_CAPABILITIES,
  DEFAULT_SECCOMP_PROFILE,
  loadDockerSeccompProfile,
  makeRuntimeDir,
  ociSeccomp,
  networkHook,
  ociConfig,
  outputHook,
  prepareRootFilesystem,
  RUNTIME_BASE,
  TASK_ID_RANGES,
} from '@kiln/containerizer';
import { spawn } from 'node:child_process';
import {
  chownSync,
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';

/**
 * Plain `runc run` of the native containerizer's own OCI configuration (the same namespaces, id
 * mapping, mounts, seccomp profile and limits), with no Kiln around it: the floor the native
 * containerizer is measured against. Its own runtime directory and cgroup parent.
 */
export const PLAIN_RUNTIME_DIR = join(RUNTIME_BASE, 'bench-plain-runc');
export const PLAIN_CGROUP_PARENT = 'kiln-bench-plain';

/** A range of the containerizer's pool that no bench task of it holds (its last). */
const IDS = {
  hostId: 2 ** 30 + (TASK_ID_RANGES.count - 1) * TASK_ID_RANGES.size,
  size: TASK_ID_RANGES.size,
};

export interface PlainTiming {
  firstOutputMs: number;
  exitMs: number;
}

let filter: Promise<Record<string, unknown>> | undefined;

/** The containerizer's own filter: Docker's default profile for the same capabilities. */
function seccomp(): Promise<Record<string, unknown>> {
  filter ??= loadDockerSeccompProfile(DEFAULT_SECCOMP_PROFILE).then((profile) =>
    ociSeccomp(profile, {
      capabilities: DEFAULT_CAPABILITIES,
      arch: process.arch,
      kernel: release(),
    }),
  );
  return filter;
}

/**
 * One container of `echo hi`: prepared untimed, then `runc run` timed from spawn to exit. With
 * `withOutputHook`, it also runs the hook by which the native containerizer takes the container's
 * output pipes back from it (see `OUTPUT_HOOK`): the difference prices that hook.
 */
export async function plainRuncRun(
  root: string,
  name: string,
  network: 'none' | 'private',
  withOutputHook = false,
): Promise<PlainTiming> {
  await makeRuntimeDir(PLAIN_RUNTIME_DIR);
  const filesystem = await prepareRootFilesystem(join(PLAIN_RUNTIME_DIR, 'root'), 'kiln');
  const sandbox = join(root, name);
  const workspace = join(sandbox, 'workspace');
  const bundle = join(sandbox, 'bundle');
  mkdirSync(workspace, { recursive: true });
  mkdirSync(bundle);
  chownSync(workspace, IDS.hostId, IDS.hostId);
  const networkPidFile = join(PLAIN_RUNTIME_DIR, `${name}.network.pid`);
  const config = ociConfig({
    argv: ['/bin/sh', '-c', 'echo hi'],
    environment: { PATH: '/usr/bin:/bin' },
    ...filesystem,
    workspace,
    network,
    networkHook: networkHook({
      slirp4netns: '/usr/bin/slirp4netns',
      pidFile: networkPidFile,
      logFile: join(bundle, 'slirp4netns.log'),
    }),
    ...(withOutputHook ? { outputHook: outputHook(IDS.hostId) } : {}),
    ids: IDS,
    cgroupsPath: `/${PLAIN_CGROUP_PARENT}/${name}`,
    limits: { cpus: 0.5, memMiB: 64, pidsMax: 1024 },
    tmpSizeMiB: 64,
    hostname: 'kiln',
    seccomp: await seccomp(),
  });
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(config));
  const stdoutFile = join(sandbox, 'stdout');
  const stdout = openSync(stdoutFile, 'a');
  const started = performance.now();
  let firstOutputMs = NaN;
  const polling = (async () => {
    while (Number.isNaN(firstOutputMs)) {
      if (statSync(stdoutFile).size > 0) firstOutputMs = performance.now() - started;
      else await new Promise((r) => setImmediate(r));
    }
  })();
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(
      'runc',
      ['--root', join(PLAIN_RUNTIME_DIR, 'runc'), 'run', '--bundle', bundle, name],
      { stdio: ['ignore', stdout, 'inherit'] },
    );
    child.once('error', reject);
    child.once('exit', resolve);
  });
  const exitMs = performance.now() - started;
  closeSync(stdout);
  if (code !== 0) throw new Error(`plain runc run exited with ${code}`);
  await polling;
  // Untimed: the network helper outlives the container unless stopped.
  try {
    process.kill(Number(readFileSync(networkPidFile, 'utf8')), 'SIGTERM');
  } catch {
    // network none: there was none.
  }
  rmSync(networkPidFile, { force: true });
  return { firstOutputMs, exitMs };
}
