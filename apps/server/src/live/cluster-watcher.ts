import { Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { ClusterStateClient } from '../builds/cluster-state.client';
import { LiveHub } from './live-hub';

/** How often the master is read while a cluster page is open on this process. */
export const CLUSTER_WATCH_MS = 2_000;

/**
 * The cluster's agents live in the master, not in the database, so no record change tells of
 * them. While some stream of this process watches `cluster`, this reads the master (one reader
 * per process, however many pages are open) and publishes a `cluster` event when the answer
 * differs from the last one.
 */
@Injectable()
export class ClusterWatcher implements OnModuleInit, OnApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private last: string | undefined;
  private reading = false;

  constructor(
    private readonly hub: LiveHub,
    private readonly cluster: ClusterStateClient,
  ) {}

  onModuleInit(): void {
    this.hub.onWatchedTopics((topics) => {
      if (topics.has('cluster')) this.start();
      else this.stop();
    });
  }

  onApplicationShutdown(): void {
    this.stop();
  }

  private start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => void this.read(), CLUSTER_WATCH_MS);
    // The first reading is the one changes are told against: take it with the page's own load
    // (which follows its stream's `ready`), not a period later, when the cluster may have moved.
    void this.read();
  }

  private stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.last = undefined;
  }

  private async read(): Promise<void> {
    if (this.reading) return;
    this.reading = true;
    try {
      // Asked afresh, and through the client page loads share: the load a change causes is
      // answered with this reading or a later one, never an older one that a cache still held.
      const now = JSON.stringify(await this.cluster.agents(0).catch(() => 'unreachable'));
      if (this.last !== undefined && now !== this.last && this.timer !== undefined) {
        this.hub.publish({ topics: ['cluster'], kind: 'cluster' });
      }
      if (this.timer !== undefined) this.last = now;
    } finally {
      this.reading = false;
    }
  }
}
