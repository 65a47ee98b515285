import { MAX_JSON_DEPTH } from '@kiln/common';
import { ENVIRONMENTS, envVariables, loadEnv } from '@kiln/config';
import { compilePipeline, MAX_ALIAS_COUNT, MAX_NESTING } from '@kiln/pipeline';
import { WEBHOOK_LIMITS } from '@kiln/scm';
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const ROOT = resolve(__dirname, '../..');
const README = readFileSync(resolve(ROOT, 'README.md'), 'utf8');

/** Rows of the README's configuration table: variable → default column. */
function documentedVariables(): Map<string, string> {
  const rows = new Map<string, string>();
  for (const match of README.matchAll(/^\|\s*`([A-Z][A-Z0-9_]+)`\s*\|\s*([^|]+?)\s*\|/gm)) {
    rows.set(match[1]!, match[2]!.trim());
  }
  return rows;
}

describe('README configuration table', () => {
  const documented = documentedVariables();

  it.each(Object.entries(ENVIRONMENTS))('documents every variable %s reads', (_app, env) => {
    const missing = envVariables(env).filter((name) => !documented.has(name));
    expect(missing).toEqual([]);
  });

  it.each(Object.entries(ENVIRONMENTS))('states the defaults %s really uses', (_app, env) => {
    // The only variable without a default; any valid value will do here.
    const required = { KILN_CLUSTER_TOKEN: 'a-token-of-sixteen-chars' };
    const defaults = loadEnv<object>(env, required) as Record<string, unknown>;
    for (const name of envVariables(env)) {
      const value = name === 'KILN_CLUSTER_TOKEN' ? undefined : defaults[name];
      const expected =
        value === undefined ? 'unset' : `\`${JSON.stringify(value).replaceAll('"', '')}\``;
      expect(`${name}: ${documented.get(name)}`).toBe(`${name}: ${expected}`);
    }
  });
});

describe('docker/compose.yaml', () => {
  const compose = parse(readFileSync(resolve(ROOT, 'docker/compose.yaml'), 'utf8'), {
    merge: true,
  }) as {
    services: Record<string, { image?: string; command?: string[]; environment?: object }>;
  };
  const roles = readdirSync(resolve(ROOT, 'apps')).filter((app) =>
    ['server', 'master', 'agent'].includes(app),
  );

  it('runs every role this repository builds from the one kiln image', () => {
    expect(roles).toContain('server');
    for (const role of roles) {
      expect(compose.services[role], `service ${role}`).toMatchObject({
        image: 'kiln:latest',
        command: [role],
      });
    }
  });

  it('gives the roles PostgreSQL and Redis', () => {
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(['postgres', 'redis']));
    const env = compose.services.server?.environment as Record<string, string> | undefined;
    expect(env?.KILN_DATABASE_URL).toMatch(/^postgres:\/\/.*@postgres:5432\//);
    expect(env?.REDIS_URL).toBe('redis://redis:6379');
  });
});

describe('docs/pipeline.md', () => {
  const doc = readFileSync(resolve(ROOT, 'docs/pipeline.md'), 'utf8');
  // Whole pipelines only: fragments that show one key have no top-level `jobs:`.
  const examples = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)]
    .map((match) => match[1] ?? '')
    .filter((yaml) => /^jobs:/m.test(yaml));

  it('has whole-pipeline examples', () => {
    expect(examples.length).toBeGreaterThanOrEqual(3);
  });

  it.each(examples.map((yaml, i) => [i + 1, yaml] as const))(
    'example %i compiles to a plan with jobs',
    (_index, yaml) => {
      const plan = compilePipeline(yaml, { event: 'push', branch: 'main', changedFiles: [] });
      expect('jobs' in plan && plan.jobs.length > 0).toBe(true);
    },
  );
});

describe('the limits on what comes in', () => {
  const doc = readFileSync(resolve(ROOT, 'docs/pipeline.md'), 'utf8');

  it('are stated in the README as the code enforces them', () => {
    for (const stated of [
      `${MAX_JSON_DEPTH} levels: \`400\``,
      `${WEBHOOK_LIMITS.deliveryIdLength} characters: \`400\``,
      `first ${WEBHOOK_LIMITS.commitMessageBytes / 1024} KiB`,
      `${WEBHOOK_LIMITS.refBytes} bytes, ${WEBHOOK_LIMITS.refComponentBytes} bytes per`,
      `cut to ${WEBHOOK_LIMITS.authorLength} characters`,
      `more than ${WEBHOOK_LIMITS.changedFiles.toLocaleString('en')} count as unknown`,
      `nested at most ${MAX_NESTING} levels, ${MAX_ALIAS_COUNT} alias expansions`,
    ]) {
      expect(README).toContain(stated);
    }
  });

  it('are stated in docs/pipeline.md as the compiler enforces them', () => {
    expect(doc).toMatch(new RegExp(`\\|\\s*${MAX_NESTING} levels\\s*\\|`));
    expect(doc).toMatch(new RegExp(`\\|\\s*${MAX_ALIAS_COUNT}\\s*\\|`));
  });
});

describe('docs/cluster.md', () => {
  const doc = readFileSync(resolve(ROOT, 'docs/cluster.md'), 'utf8');
  const dir = resolve(ROOT, 'apps/master/src/cluster');

  it("names every unit of the master's cluster directory, and only those", () => {
    const section = doc.slice(doc.indexOf('## Inside the master'));
    const named = [...section.matchAll(/^\|\s*`([a-z.-]+\.ts)`/gm)].map((m) => m[1]).sort();
    const units = readdirSync(dir)
      .filter((file) => file.endsWith('.ts') && !file.endsWith('.spec.ts'))
      .filter((file) => file !== 'master.service.ts')
      .sort();
    expect(named).toEqual(units);
  });
});
