import type { LogLevel } from '@kiln/config';
import { EphemeralRedis, freePort } from '@kiln/queue/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KilnProcess } from './kiln-process';

export const CLUSTER_TOKEN = 'e2e-pipeline-cluster-token-0123';
export const API_TOKEN = 'e2e-pipeline-api-token-0123456789';

export interface PipelineStackOptions {
  agentEnv?: Record<string, string>;
  serverEnv?: Record<string, string>;
  /** Overrides of the master's settings (agent timeout, heartbeats…). */
  masterEnv?: Record<string, string>;
  /** A Redis of the caller's (e.g. with an append-only file); default a fresh one. */
  redis?: EphemeralRedis;
  /**
   * KILN_LOG_LEVEL of all three processes (benchmarks: `warn`). Above `info` the agent's and the
   * server's ready lines are not printed, so readiness is then read from the master's state.
   */
  logLevel?: LogLevel;
}

export interface RunView {
  id: string;
  number: number;
  state: string;
  errors?: string[];
  sha: string;
  jobs: JobView[];
}

export interface JobView {
  id: string;
  key: string;
  state: string;
  attempt: number;
  taskId?: string;
  statusMessage?: string;
  exitCode?: number;
}

/**
 * Kiln as processes on one machine, as `npm start` runs it: a master, an agent and a server, on
 * a Redis of their own. The server keeps its data directory and port across restarts.
 */
export class PipelineStack {
  readonly processes: KilnProcess[] = [];
  server!: KilnProcess;
  master!: KilnProcess;
  agent!: KilnProcess;
  serverUrl!: string;
  masterUrl!: string;
  private serverPort = 0;
  private masterPort = 0;
  private masterEnv: Record<string, string> = {};
  private agentEnv: Record<string, string> = {};
  /** The agent's data directory (its task store, sandboxes and source cache). */
  readonly agentDataDir = mkdtempSync(join(tmpdir(), 'kiln-e2e-agent-'));
  readonly serverDataDir = mkdtempSync(join(tmpdir(), 'kiln-e2e-server-'));

  private constructor(
    readonly redis: EphemeralRedis,
    private readonly serverEnv: Record<string, string>,
    private readonly logLevel: LogLevel | undefined,
  ) {}

  static async start(options: PipelineStackOptions = {}): Promise<PipelineStack> {
    const stack = new PipelineStack(
      options.redis ?? (await EphemeralRedis.start()),
      options.serverEnv ?? {},
      options.logLevel,
    );
    try {
      stack.masterPort = await freePort();
      stack.masterEnv = options.masterEnv ?? {};
      await stack.startMaster();
      stack.agentEnv = options.agentEnv ?? {};
      await stack.startAgent();
      stack.serverPort = await freePort();
      await stack.startServer();
    } catch (error) {
      // Whatever started before the failure is stopped: a failed start leaves nothing running.
      await stack.dispose();
      throw error;
    }
    return stack;
  }

  private track(process: KilnProcess): KilnProcess {
    this.processes.push(process);
    return process;
  }

  /** Starts the master (again), on the same port: agents and the server find it where it was. */
  async startMaster(): Promise<void> {
    this.master = this.track(
      KilnProcess.start('master', {
        KILN_CLUSTER_TOKEN: CLUSTER_TOKEN,
        KILN_MASTER_PORT: String(this.masterPort),
        KILN_MASTER_AGENT_TIMEOUT_MS: '5000',
        KILN_MASTER_AGENT_HEARTBEAT_MS: '500',
        KILN_MASTER_FRAMEWORK_HEARTBEAT_MS: '1000',
        KILN_MASTER_ALLOCATION_INTERVAL_MS: '200',
        ...this.logLevelEnv(),
        ...this.masterEnv,
      }),
    );
    this.masterUrl = await this.master.url();
  }

  /** Starts the agent (again), on the same data directory: it recovers its tasks. */
  async startAgent(): Promise<void> {
    this.agent = this.track(
      KilnProcess.start('agent', {
        KILN_CLUSTER_TOKEN: CLUSTER_TOKEN,
        KILN_MASTER_URL: this.masterUrl,
        KILN_AGENT_RESOURCES: 'cpus:4;mem:4096;disk:4096',
        KILN_AGENT_KILL_GRACE_MS: '500',
        KILN_DATA_DIR: this.agentDataDir,
        ...this.logLevelEnv(),
        ...this.agentEnv,
      }),
    );
    if (this.quiet) await this.untilMasterHas(this.agent, (state) => state.agents.length > 0);
    else await this.agent.url();
  }

  /**
   * Starts the agent again on the data directory of the one before (which must have exited): it
   * recovers the tasks it had and re-registers with them.
   */
  async restartAgent(): Promise<KilnProcess> {
    await this.startAgent();
    return this.agent;
  }

  /** Starts the server (again), on the same data directory and port. */
  async startServer(): Promise<void> {
    this.server = this.track(
      KilnProcess.start('server', {
        KILN_CLUSTER_TOKEN: CLUSTER_TOKEN,
        KILN_API_TOKEN: API_TOKEN,
        KILN_MASTER_URL: this.masterUrl,
        REDIS_URL: this.redis.url,
        KILN_PORT: String(this.serverPort),
        KILN_DATA_DIR: this.serverDataDir,
        ...this.logLevelEnv(),
        ...this.serverEnv,
      }),
    );
    // Generous: on a loaded machine (CI runners, parallel suites) Nest maps its routes slowly.
    this.serverUrl = await this.server.url(30_000);
    if (this.quiet) {
      await this.untilMasterHas(this.server, (state) =>
        state.frameworks.some((f) => f.name === 'kiln-builds' && f.connected),
      );
    } else {
      await this.server.waitFor(/subscribed to the master/);
    }
  }

  /** True when the processes do not print their info lines (the ready lines among them). */
  private get quiet(): boolean {
    return this.logLevel !== undefined && !['info', 'debug', 'trace'].includes(this.logLevel);
  }

  private logLevelEnv(): Record<string, string> {
    return this.logLevel === undefined ? {} : { KILN_LOG_LEVEL: this.logLevel };
  }

  /** Polls the master's state until `ready` holds; `process` is the one waited for. */
  private async untilMasterHas(
    process: KilnProcess,
    ready: (state: {
      agents: unknown[];
      frameworks: { name: string; connected: boolean }[];
    }) => boolean,
    timeoutMs = 15_000,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const res = await fetch(`${this.masterUrl}/api/v1/state`, {
        headers: { authorization: `Bearer ${CLUSTER_TOKEN}` },
      });
      if (res.ok && ready((await res.json()) as Parameters<typeof ready>[0])) return;
      if (Date.now() > deadline) {
        throw new Error(`${process.app} not ready within ${timeoutMs} ms:\n${process.output}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async api<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await fetch(`${this.serverUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${API_TOKEN}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    const type = res.headers.get('content-type') ?? '';
    return { status: res.status, body: (type.includes('json') ? JSON.parse(text) : text) as T };
  }

  async ok<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.api<T>(method, path, body);
    if (res.status >= 300) {
      throw new Error(`${method} ${path} → ${res.status} ${JSON.stringify(res.body)}`);
    }
    return res.body;
  }

  run(runId: string): Promise<RunView> {
    return this.ok<RunView>('GET', `/api/v1/runs/${runId}`);
  }

  /** Polls the run until `done` holds for it. */
  async waitForRun(
    runId: string,
    done: (run: RunView) => boolean = (run) =>
      ['success', 'failure', 'error', 'canceled'].includes(run.state),
    timeoutMs = 60_000,
  ): Promise<RunView> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const run = await this.run(runId);
      if (done(run)) return run;
      if (Date.now() > deadline) {
        throw new Error(`run ${runId} not there within ${timeoutMs} ms: ${JSON.stringify(run)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  log(jobId: string): Promise<string> {
    return this.ok<string>('GET', `/api/v1/jobs/${jobId}/log`);
  }

  async webhook(
    path: string,
    headers: Record<string, string>,
    raw: Buffer,
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${this.serverUrl}${path}`, { method: 'POST', headers, body: raw });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  async dispose(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.dispose()));
    await this.redis.stop();
    // The server's process removes it too; this covers a server that never started.
    rmSync(this.serverDataDir, { recursive: true, force: true });
    rmSync(this.agentDataDir, { recursive: true, force: true });
  }
}
