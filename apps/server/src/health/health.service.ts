import { DatabaseHealth, type DatabaseStatus } from '@kiln/persistence';
import { RedisHealth, type RedisStatus } from '@kiln/queue';
import { Injectable, type BeforeApplicationShutdown } from '@nestjs/common';

export interface Readiness {
  ready: boolean;
  draining: boolean;
  checks: { database: DatabaseStatus; redis: RedisStatus };
}

@Injectable()
export class HealthService implements BeforeApplicationShutdown {
  private draining = false;

  constructor(
    private readonly database: DatabaseHealth,
    private readonly redis: RedisHealth,
  ) {}

  /** Ready means: every dependency answers now and the process is not shutting down. */
  async readiness(): Promise<Readiness> {
    const [database, redis] = await Promise.all([this.database.check(), this.redis.check()]);
    return {
      ready: database.up && redis.up && !this.draining,
      draining: this.draining,
      checks: { database, redis },
    };
  }

  // A load balancer polling /readyz stops sending new requests while the last ones drain.
  beforeApplicationShutdown(): void {
    this.draining = true;
  }
}
