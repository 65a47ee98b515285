import type Docker from 'dockerode';
import { ContainerLaunchError, type ContainerSpec } from '../containerizer';
import { holderOptions } from './create-options';
import { removeDockerContainer, statusCodeOf } from './docker-support';
import {
  findSlirp4netns,
  isLive,
  startUserModeNetwork,
  stopUserModeNetworks,
  userModeNetworks,
} from './user-mode-network';

/** What a task's network is known by. */
export interface NetworkedContainer {
  readonly id: string;
  /** The engine's id of its network holder, when it has a user-mode network. */
  holderId?: string;
  docker?: Docker.Container;
}

/**
 * The tasks' own networks: a network namespace per task, held by a holder container and given
 * outbound access by slirp4netns on the host, whose loopback it never reaches.
 */
export class TaskNetworks {
  constructor(
    private readonly docker: Docker,
    private readonly owner: string,
    /** The slirp4netns program; found in the system's directories when first needed. */
    private slirp4netns: string | undefined,
  ) {}

  /**
   * Gives the task a network namespace of its own with outbound access, before its command runs,
   * as a Kubernetes pod does: a holder container (the task's image, waiting on a read) owns the
   * namespace, slirp4netns on the host is attached to it, and the task's container joins it.
   * The holder's `nameserver` is slirp4netns's forwarder; the task shares its `/etc/resolv.conf`
   * and `/etc/hosts`. Resolves with the holder's id once the network is configured.
   */
  async start(container: NetworkedContainer, spec: ContainerSpec & { image: string }) {
    this.slirp4netns ??= await findSlirp4netns();
    const slirp4netns = this.slirp4netns;
    if (slirp4netns === undefined) {
      throw new ContainerLaunchError(
        'CONTAINER_LAUNCH_FAILED',
        "no slirp4netns program (Debian package slirp4netns) to give the task a network; install it, or give the task network 'none'",
      );
    }
    const holder = await this.docker.createContainer(holderOptions(spec, this.owner));
    container.holderId = holder.id;
    await holder.start();
    const { State } = await holder.inspect();
    if (!State.Running || State.Pid <= 0) {
      throw new Error(
        `its network holder ended at once (exit code ${State.ExitCode}; does the image have /bin/sh?)`,
      );
    }
    await startUserModeNetwork({
      slirp4netns,
      pid: State.Pid,
      owner: this.owner,
      containerId: spec.containerId,
    });
    return holder.id;
  }

  /**
   * After an agent restart, gives a running task whose slirp4netns is gone a new one, attached
   * through the task's own process (it shares the holder's namespace). Never rejects: a task
   * whose network cannot be given back runs on without, and fails its fetches itself.
   */
  async regain(container: NetworkedContainer): Promise<void> {
    try {
      if ((await userModeNetworks(this.owner)).has(container.id)) return;
      this.slirp4netns ??= await findSlirp4netns();
      const info = await container.docker?.inspect();
      if (this.slirp4netns === undefined || info === undefined || !info.State.Running) return;
      await startUserModeNetwork({
        slirp4netns: this.slirp4netns,
        pid: info.State.Pid,
        owner: this.owner,
        containerId: container.id,
      });
    } catch {
      // See above.
    }
  }

  /**
   * How the task's holder ended, if it no longer runs: a task that was to join it cannot have
   * started. `undefined` while it runs, when there is none, or when the engine does not say.
   * The engine learns of a holder's end a moment after its process is gone (and runc has failed
   * to join its namespace), so the host's process table is asked too, as slirp4netns's attach
   * already does.
   */
  async holderEnded(container: NetworkedContainer): Promise<string | undefined> {
    if (container.holderId === undefined) return undefined;
    try {
      const { State } = await this.docker.getContainer(container.holderId).inspect();
      if (!State.Running) {
        return `exit code ${State.ExitCode}${State.OOMKilled ? ', killed for memory' : ''}`;
      }
      return (await isLive(State.Pid)) ? undefined : `its process ${State.Pid} is gone`;
    } catch (error) {
      return statusCodeOf(error) === 404 ? 'removed' : undefined;
    }
  }

  /** Stops the task's slirp4netns and removes its holder; idempotent. */
  async stop(container: NetworkedContainer): Promise<void> {
    const holderId = container.holderId;
    if (holderId === undefined) return;
    const networks = await userModeNetworks(this.owner);
    await stopUserModeNetworks(networks.get(container.id) ?? []);
    await removeDockerContainer(this.docker, holderId);
    container.holderId = undefined;
  }
}
