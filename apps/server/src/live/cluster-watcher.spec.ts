import { strict } from '@kiln/common/testing';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ClusterStateClient } from '../builds/cluster-state.client';
import { ClusterController } from '../builds/cluster.controller';
import { CLUSTER_WATCH_MS, ClusterWatcher } from './cluster-watcher';
import type { LiveEvent, LiveHub } from './live-hub';

/** The master's operator API as the client reads it: one agent of 4 CPUs, `used` of them held. */
class MasterState {
  used = 0;
  private server: Server | undefined;

  async listen(): Promise<string> {
    this.server = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          agents: [
            {
              id: 'agent-1',
              hostname: 'agent-1.local',
              state: 'ACTIVE',
              containerizers: ['cgroup'],
              resources: {
                total: { cpus: 4, mem: 4_096 },
                used: { cpus: this.used, mem: this.used * 256 },
              },
            },
          ],
        }),
      );
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server?.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

describe(ClusterWatcher.name, () => {
  let master: MasterState;
  let published: LiveEvent[];
  let watcher: ClusterWatcher;
  let controller: ClusterController;
  let watchTopics: (topics: ReadonlySet<string>) => void;

  beforeEach(async () => {
    // Only the watcher's period is faked: the client's cache ages in real time, as in a server.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    master = new MasterState();
    const client = new ClusterStateClient(await master.listen(), 'token');
    published = [];
    const hub = strict<LiveHub>('LiveHub', {
      publish: (event: LiveEvent) => published.push(event),
      onWatchedTopics: (listener: (topics: ReadonlySet<string>) => void) => {
        watchTopics = listener;
      },
    });
    watcher = new ClusterWatcher(hub, client);
    controller = new ClusterController(client);
    watcher.onModuleInit();
  });

  afterEach(async () => {
    watcher.onApplicationShutdown();
    vi.useRealTimers();
    await master.close();
  });

  it('answers the page load a change causes with that change, not an earlier cached answer', async () => {
    master.used = 1;
    watchTopics(new Set(['cluster']));
    // The page's own first load, just after its stream opened, and the watcher's first reading.
    expect((await controller.agents()).agents[0]?.free.cpus).toBe(3);
    await vi.waitFor(() => expect(watcher['last']).toBeDefined());

    // The task ends well within the client's cache age of the page's load.
    master.used = 0;
    vi.advanceTimersByTime(CLUSTER_WATCH_MS);
    await vi.waitFor(() => expect(published).toHaveLength(1));

    // The page reloads on that event: it must see the agent free, or it would show it busy
    // until the cluster next changes.
    expect((await controller.agents()).agents[0]?.free.cpus).toBe(4);
  });
});
