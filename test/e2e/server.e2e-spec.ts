import { createTestDatabase, type TestDatabase } from '@kiln/persistence/testing';
import { freePort } from '@kiln/queue/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { KilnProcess } from './support/kiln-process';

describe('kiln server process', () => {
  const started: KilnProcess[] = [];
  const databases: TestDatabase[] = [];
  function start(env: Record<string, string> = {}): KilnProcess {
    // No master runs here: the build framework keeps retrying it, which the server survives.
    const kiln = KilnProcess.start('server', {
      KILN_CLUSTER_TOKEN: 'e2e-server-cluster-token',
      ...env,
    });
    started.push(kiln);
    return kiln;
  }
  afterEach(async () => {
    await Promise.all(started.splice(0).map((p) => p.dispose()));
    await Promise.all(databases.splice(0).map((d) => d.drop()));
  });

  it('boots on embedded SQLite and reports the database and Redis ready', async () => {
    const kiln = start();
    const res = await fetch(`${await kiln.url()}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      ready: true,
      draining: false,
      checks: { database: { up: true, dialect: 'sqlite' }, redis: { up: true } },
    });
    expect(kiln.output).toContain(`${kiln.dataDir}/kiln.sqlite is ready`);
  });

  it('boots on PostgreSQL when KILN_DATABASE_URL names one', async () => {
    const database = await createTestDatabase('postgres');
    databases.push(database);
    const kiln = start({ KILN_DATABASE_URL: database.options.url! });
    const body = (await (await fetch(`${await kiln.url()}/readyz`)).json()) as {
      checks: { database: { dialect: string } };
    };
    expect(body.checks.database).toEqual({ up: true, dialect: 'postgres' });
  });

  it('writes JSON log lines that carry the request id it echoes', async () => {
    const kiln = start();
    // Under /api: other paths are the web UI's, answered with its page.
    const res = await fetch(`${await kiln.url()}/api/v1/no-such-route`, {
      headers: { 'x-request-id': 'trace-1234' },
    });
    expect(res.status).toBe(404);
    expect(res.headers.get('x-request-id')).toBe('trace-1234');
    const line = await kiln.waitFor(/^\{.*"trace-1234".*\}$/m);
    const entry = JSON.parse(line[0]) as { req: { id: string }; res: { statusCode: number } };
    expect(entry.req.id).toBe('trace-1234');
    expect(entry.res.statusCode).toBe(404);
  });

  it('exits non-zero within 5 s naming an unreachable REDIS_URL', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    const kiln = start({ REDIS_URL: url });
    // The 5 s bound is the boot contract (an orchestrator restarts a stuck process), not a speed
    // figure: a healthy machine exits in about a second.
    expect(await kiln.exitCode(5_000)).not.toBe(0);
    expect(kiln.output).toContain(`cannot start: Redis at ${url} is unreachable`);
  });

  it('refuses a malformed KILN_DATABASE_URL, naming the variable', async () => {
    const kiln = start({ KILN_DATABASE_URL: 'postgres//oops' });
    expect(await kiln.exitCode()).toBe(1);
    expect(kiln.output).toMatch(/KILN_DATABASE_URL must be a postgres or postgresql URL/);
    expect(kiln.output).toContain('got "postgres//oops"');
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('stops cleanly on %s', async (signal) => {
    const kiln = start();
    await kiln.url();
    kiln.signal(signal);
    expect(await kiln.exitCode()).toBe(0);
    expect(kiln.output).toContain('closed the Redis connection');
    expect(kiln.output).toContain('closed the sqlite database');
    expect(kiln.output).toContain('kiln-server: stopped');
  });
});
