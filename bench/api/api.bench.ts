// The API under a large history: a real server process on PostgreSQL holding 100,000 runs of one
// repository, asked for pages of its run list (first page, deep pages by cursor, filtered by
// branch) one request at a time. Run with `npm run bench:api` (it builds first).
import { createTestDatabase, type TestDatabase } from '@kiln/persistence/testing';
import { RepositoriesRepository } from '@kiln/persistence';
import { EphemeralRedis } from '@kiln/queue/testing';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { KilnProcess } from '../../test/e2e/support/kiln-process';
import { percentile, reportSection, table } from '../support/report';
import { runLogViewBenchmark } from './log-view.bench';

const RUNS = Number(process.env.BENCH_RUNS ?? 100_000);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 300);
const BRANCHES = ['main', 'develop', 'release/1.x', 'feature/a', 'feature/b', 'renovate/deps'];
const TOKEN = 'bench-api-token-0123456789abcdef';
const AIM_P95_MS = 50;
const AIM_FIRST_LOAD_GZIP_KB = 300;
const WEB_ASSETS = join(__dirname, '../../dist/web/assets');

/** What the browser downloads on a first visit: the built JS and CSS, gzipped. */
function shippedToBrowser(): string[][] {
  if (!existsSync(WEB_ASSETS))
    return [['web UI not built (`npm run build` builds it)', '', '', '']];
  const sizes = readdirSync(WEB_ASSETS)
    .filter((f) => /\.(js|css)$/.test(f))
    .map((f) => {
      const bytes = readFileSync(join(WEB_ASSETS, f));
      return {
        kind: f.endsWith('.js') ? 'JS' : 'CSS',
        raw: bytes.length,
        gzip: gzipSync(bytes, { level: 9 }).length,
      };
    });
  const total = (kind: string, key: 'raw' | 'gzip'): number =>
    sizes.filter((s) => s.kind === kind).reduce((sum, s) => sum + s[key], 0) / 1024;
  const js = total('JS', 'gzip');
  return [
    [
      'JS',
      `${total('JS', 'raw').toFixed(1)} KB`,
      `${js.toFixed(1)} KB`,
      js <= AIM_FIRST_LOAD_GZIP_KB ? 'met' : '**missed**',
    ],
    ['CSS', `${total('CSS', 'raw').toFixed(1)} KB`, `${total('CSS', 'gzip').toFixed(1)} KB`, ''],
  ];
}

async function seed(database: TestDatabase, repositoryId: string): Promise<void> {
  const states = ['success', 'failure', 'success', 'success', 'canceled'] as const;
  const start = Date.parse('2026-01-01T00:00:00Z');
  for (let from = 1; from <= RUNS; from += 1_000) {
    const rows = [];
    for (let number = from; number < Math.min(from + 1_000, RUNS + 1); number++) {
      const at = new Date(start + number * 60_000).toISOString();
      rows.push({
        id: randomUUID(),
        repository_id: repositoryId,
        number,
        state: states[number % states.length]!,
        event: number % 7 === 0 ? ('pull_request' as const) : ('push' as const),
        ref: `refs/heads/${BRANCHES[number % BRANCHES.length]!}`,
        branch: BRANCHES[number % BRANCHES.length]!,
        tag: null,
        sha: number.toString(16).padStart(40, '0'),
        message: `change number ${number}`,
        author: `dev${number % 20}`,
        pull_request: null,
        from_fork: 0,
        changed_files: null,
        errors: null,
        rerun_of: null,
        created_at: at,
        started_at: at,
        finished_at: at,
      });
    }
    await database.db.insertInto('runs').values(rows).execute();
  }
  await database.db
    .updateTable('repositories')
    .set({ run_counter: RUNS })
    .where('id', '=', repositoryId)
    .execute();
}

async function timed(url: string): Promise<number> {
  const started = performance.now();
  const res = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } });
  const body = (await res.json()) as { runs?: unknown[] };
  if (res.status !== 200 || body.runs === undefined) {
    throw new Error(`GET ${url} answered ${res.status}`);
  }
  return performance.now() - started;
}

export async function runApiBenchmark(): Promise<string> {
  const database = await createTestDatabase('postgres');
  const redis = await EphemeralRedis.start();
  let server: KilnProcess | undefined;
  try {
    const repository = await new RepositoriesRepository(database).create({
      forge: 'github',
      fullName: 'acme/monorepo',
      cloneUrl: 'https://github.com/acme/monorepo.git',
      defaultBranch: 'main',
    });
    const seeding = performance.now();
    await seed(database, repository.id);
    const seeded = (performance.now() - seeding) / 1000;
    server = KilnProcess.start('server', {
      KILN_DATABASE_URL: database.options.url,
      KILN_CLUSTER_TOKEN: 'bench-api-cluster-token-0123',
      KILN_API_TOKEN: TOKEN,
      KILN_MASTER_URL: 'http://127.0.0.1:9',
      REDIS_URL: redis.url,
      KILN_LOG_LEVEL: 'warn',
    });
    const base = `${await server.url()}/api/v1/repositories/${repository.id}/runs`;
    const cases: [string, () => string][] = [
      ['first page (50 newest)', () => `${base}?limit=50`],
      [
        'a deep page (cursor `before`)',
        () => `${base}?limit=50&before=${1 + Math.floor(Math.random() * RUNS)}`,
      ],
      [
        'filtered by branch',
        () =>
          `${base}?limit=50&branch=${encodeURIComponent(BRANCHES[Math.floor(Math.random() * BRANCHES.length)]!)}`,
      ],
    ];
    const rows: string[][] = [];
    for (const [name, url] of cases) {
      for (let i = 0; i < 20; i++) await timed(url()); // warm-up: connections, plans, caches
      const samples: number[] = [];
      for (let i = 0; i < REQUESTS; i++) samples.push(await timed(url()));
      samples.sort((a, b) => a - b);
      const p95 = percentile(samples, 95);
      rows.push([
        name,
        `${percentile(samples, 50).toFixed(1)} ms`,
        `${p95.toFixed(1)} ms`,
        `${percentile(samples, 99).toFixed(1)} ms`,
        p95 <= AIM_P95_MS ? 'met' : '**missed**',
      ]);
    }
    return (
      `${RUNS.toLocaleString('en')} runs of one repository in PostgreSQL (seeded in ${seeded.toFixed(1)} s), ` +
      `${REQUESTS} sequential \`GET /api/v1/repositories/:id/runs\` per case after 20 warm-up requests, ` +
      'through a real server process (token authentication and the repository access check included). ' +
      `Aim: p95 ≤ ${AIM_P95_MS} ms.\n\n` +
      table(['run list', 'p50', 'p95', 'p99', `p95 ≤ ${AIM_P95_MS} ms`], rows) +
      '\n\nPages are keyset-paginated by run number (`before`), served by the unique index' +
      ' (repository, number); the branch filter by the index (repository, branch, number).' +
      `\n\n**Shipped to the browser** on a first load of the web UI (all of \`dist/web/assets\`,` +
      ` gzip -9); aim: JS ≤ ${AIM_FIRST_LOAD_GZIP_KB} KB gzipped.\n\n` +
      table(['asset', 'raw', 'gzip', `≤ ${AIM_FIRST_LOAD_GZIP_KB} KB`], shippedToBrowser())
    );
  } finally {
    await server?.dispose();
    await redis.stop();
    await database.drop();
  }
}

if (require.main === module) {
  runApiBenchmark()
    .then(async (body) => `${body}\n\n${await runLogViewBenchmark()}`)
    .then((body) =>
      reportSection(
        'api',
        'API: run list under 100,000 runs; web UI size; log view on 100 MB',
        body,
      ),
    )
    .catch((error: unknown) => {
      process.stderr.write(`${String(error)}\n`);
      process.exit(1);
    });
}
