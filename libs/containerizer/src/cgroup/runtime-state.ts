import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { prepareRootFilesystem, type RootFilesystem } from './rootfs';
import { Runc } from './runc';
import { makeRuntimeDir } from './runtime-dir';
import { stopNetworkHelper } from './teardown';

/**
 * What the agent keeps for its native containers in its runtime directory, out of every
 * container: runc's state (root-only), the read-only root filesystem all tasks share, and the
 * pid files of their network helpers.
 */
export class RuntimeState {
  private rootFilesystem: Promise<RootFilesystem> | undefined;

  constructor(
    readonly dir: string,
    /** The hostname the shared root filesystem names (`/etc/hostname`, `/etc/hosts`). */
    private readonly hostname: string,
  ) {}

  /** The shared root filesystem, made once per containerizer (again after a failure). */
  prepareRootFilesystem(): Promise<RootFilesystem> {
    this.rootFilesystem ??= (async () => {
      await this.make();
      return prepareRootFilesystem(join(this.dir, 'root'), this.hostname);
    })();
    const prepared = this.rootFilesystem;
    prepared.catch(() => (this.rootFilesystem = undefined));
    return prepared;
  }

  /** The host's runc, keeping its state here. */
  runc(program: string): Runc {
    return new Runc(program, join(this.dir, 'runc'));
  }

  /** Where the network hook records slirp4netns's pid: the agent's, out of every container. */
  networkPidFile(containerId: string): string {
    return join(this.dir, 'network', `${containerId}.pid`);
  }

  /**
   * Where runc writes a container's pid once its process runs: out of the sandbox, which a warm
   * container's start outlives under another name.
   */
  pidFile(runcId: string): string {
    return join(this.dir, 'pids', runcId);
  }

  /**
   * Removes a container from runc (killing what is left of it, and its cgroup) and stops its
   * network helper; idempotent.
   */
  async deleteContainer(runc: Runc, containerId: string): Promise<void> {
    await runc.delete(containerId);
    await stopNetworkHelper(this.networkPidFile(containerId));
    await rm(this.pidFile(containerId), { force: true });
  }

  /**
   * Stops the network helpers, and removes the pid files, of the containers runc no longer has
   * and `kept` does not name: what a container's shim left when something killed it before it
   * stopped its helper itself (its container's cgroup is no home for the helper, which runs on
   * the host).
   */
  async sweep(kept: (runcId: string) => boolean): Promise<void> {
    for (const kind of ['network', 'pids'] as const) {
      const dir = join(this.dir, kind);
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        const runcId = kind === 'network' ? name.replace(/\.pid$/, '') : name;
        if (kept(runcId)) continue;
        if (kind === 'network') await stopNetworkHelper(join(dir, name));
        else await rm(join(dir, name), { force: true });
      }
    }
  }

  /**
   * The runtime directory and every level above it are searchable by the containers' root, which
   * resolves the root filesystem's path as an unprivileged host user, and listable by none.
   */
  private async make(): Promise<void> {
    await makeRuntimeDir(this.dir);
    await mkdir(join(this.dir, 'runc'), { recursive: true, mode: 0o700 });
    await mkdir(join(this.dir, 'network'), { recursive: true, mode: 0o700 });
    await mkdir(join(this.dir, 'pids'), { recursive: true, mode: 0o700 });
  }
}
