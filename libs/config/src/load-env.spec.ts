import { describe, expect, it } from 'vitest';
import { ConfigError, envVariables, loadEnv } from './load-env';
import { ServerEnv } from './server.env';

/** What the server cannot start without: everything else has a default. */
const REQUIRED = { KILN_CLUSTER_TOKEN: 'a-cluster-token-of-16+' };

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadEnv(ServerEnv, { ...REQUIRED, ...env });
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe(loadEnv.name, () => {
  it('applies the documented defaults when nothing else is set', () => {
    const env = loadEnv(ServerEnv, REQUIRED);
    expect(env).toMatchObject({
      KILN_HOST: '127.0.0.1',
      KILN_PORT: 8080,
      KILN_DATA_DIR: './data',
      KILN_LOG_LEVEL: 'info',
      REDIS_URL: 'redis://127.0.0.1:6379',
    });
    expect(env.KILN_DATABASE_URL).toBeUndefined();
  });

  it('converts numbers and keeps given values', () => {
    const env = loadEnv(ServerEnv, {
      ...REQUIRED,
      KILN_PORT: '9000',
      KILN_DATABASE_URL: 'postgresql://kiln:pw@db:5432/kiln',
      REDIS_URL: 'rediss://cache:6380/2',
    });
    expect(env.KILN_PORT).toBe(9000);
    expect(env.KILN_DATABASE_URL).toBe('postgresql://kiln:pw@db:5432/kiln');
    expect(env.REDIS_URL).toBe('rediss://cache:6380/2');
  });

  it('treats an empty variable as unset', () => {
    expect(
      loadEnv(ServerEnv, { ...REQUIRED, KILN_DATABASE_URL: '', KILN_PORT: ' ' }).KILN_PORT,
    ).toBe(8080);
  });

  it('names the variable, what was expected and what was given', () => {
    expect(problemsOf({ KILN_PORT: 'eighty' })).toEqual([
      'KILN_PORT must be an integer (got "eighty")',
    ]);
    expect(problemsOf({ KILN_PORT: '70000' })).toEqual([
      'KILN_PORT must be at most 65535 (got "70000")',
    ]);
  });

  it('rejects a database URL that is not PostgreSQL', () => {
    const [problem] = problemsOf({ KILN_DATABASE_URL: 'mysql://db/kiln' });
    expect(problem).toMatch(/^KILN_DATABASE_URL must be a postgres or postgresql URL/);
    expect(problem).toContain('got "mysql://db/kiln"');
    expect(problemsOf({ KILN_DATABASE_URL: 'not a url' })[0]).toMatch(/^KILN_DATABASE_URL/);
  });

  it('reports every problem at once', () => {
    const problems = problemsOf({ KILN_LOG_LEVEL: 'loud', REDIS_URL: 'http://x', KILN_PORT: '-1' });
    expect(problems.map((p) => p.split(' ')[0]).sort()).toEqual([
      'KILN_LOG_LEVEL',
      'KILN_PORT',
      'REDIS_URL',
    ]);
  });

  it('names a required variable that is not set', () => {
    expect(() => loadEnv(ServerEnv, {})).toThrow(/KILN_CLUSTER_TOKEN must be/);
  });

  it('ignores variables the class does not declare', () => {
    expect(loadEnv(ServerEnv, { ...REQUIRED, PATH: '/bin' })).not.toHaveProperty('PATH');
  });
});

describe(envVariables.name, () => {
  it('lists inherited and own variables', () => {
    expect(envVariables(ServerEnv)).toEqual(
      expect.arrayContaining(['KILN_LOG_LEVEL', 'KILN_DATA_DIR', 'REDIS_URL', 'KILN_PORT']),
    );
  });
});
