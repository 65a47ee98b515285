// Container start latency: launch → first output line and launch → exit of `echo hi`, for each
// containerizer the machine supports, beside a bare `sh -c` spawn and the `docker run` CLI in the
// same run, so the ratios hold whatever else the machine is doing.
// Run with `npm run bench:containers`.
import { CgroupContainerizer, type Containerizer, type ContainerSpec } from '@kiln/containerizer';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { percentile, reportSection, table } from '../support/report';
import { plainRuncRun } from './plain-runc';
import {
  availableContainerizers,
  BENCH_IMAGE,
  benchCgroupContainerizer,
  removeBenchCgroupParent,
  warmCgroupContainerizer,
} from './runtimes';

const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const WARMUP = 3;

interface Timing {
  firstOutputMs: number;
  exitMs: number;
}

type Runner = (index: number) => Promise<Timing>;

/** Polls a file until it has content: how an agent tailing a task's stdout would see it. */
async function untilNonEmpty(file: string, started: number): Promise<number> {
  for (;;) {
    try {
      if (statSync(file).size > 0) return performance.now() - started;
    } catch {
      // Not created yet.
    }
    await new Promise((r) => setImmediate(r));
  }
}

const BENCH_RUN = randomUUID().slice(0, 8);

function bareSpawn(command: string, args: string[]): Runner {
  return () =>
    new Promise<Timing>((resolve, reject) => {
      const started = performance.now();
      let firstOutputMs = NaN;
      const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
      child.stdout.once('data', () => (firstOutputMs = performance.now() - started));
      child.once('error', reject);
      child.once('exit', (code) => {
        if (code !== 0) reject(new Error(`${command} exited with ${code}`));
        else resolve({ firstOutputMs, exitMs: performance.now() - started });
      });
    });
}

function containerized(
  containerizer: Containerizer,
  root: string,
  image?: string,
  network?: 'none',
  warm = false,
): Runner {
  return async (index) => {
    // Unique per bench run: a container an interrupted run left behind cannot take the name.
    const kind = `${containerizer.name}-${network ?? 'default'}${warm ? '-warm' : ''}`;
    const containerId = `bench-${BENCH_RUN}-${kind}-${index}`;
    const sandbox = join(root, containerId);
    mkdirSync(sandbox);
    const spec: ContainerSpec = {
      containerId,
      command: { shell: true, value: 'echo hi' },
      environment: { PATH: '/usr/bin:/bin' },
      sandbox,
      resources: { cpus: 0.5, mem: 64, disk: 0, ports: [] },
      ...(image === undefined ? {} : { image, network: 'none' as const }),
      ...(network === undefined ? {} : { network }),
    };
    let started = performance.now();
    // The first (warm-up) run starts cold: containers are made ahead for the kind of the last.
    if (warm && index > 0) {
      // Timed from the take that gives the task its container, as an agent takes one: until the
      // one made after the last run is ready, a take gives none, and changes nothing.
      const deadline = started + 10_000;
      while (!(await containerizer.takeWarm!(spec))) {
        if (performance.now() > deadline) throw new Error('no warm container within 10 s');
        await new Promise((resolve) => setTimeout(resolve, 5));
        started = performance.now();
      }
    }
    const output = untilNonEmpty(join(sandbox, 'stdout'), started);
    try {
      const result = await containerizer.launch(spec);
      if (result.status !== 'launched')
        throw new Error(`${containerizer.name}: ${JSON.stringify(result)}`);
      const termination = await containerizer.wait(containerId);
      const exitMs = performance.now() - started;
      if (termination?.state !== 'TASK_FINISHED') {
        throw new Error(`${containerizer.name}: ${JSON.stringify(termination)}`);
      }
      const firstOutputMs = await output;
      // Untimed: the next warm container is made before the next runtime's turn, which it would
      // otherwise slow.
      if (containerizer instanceof CgroupContainerizer && warm) {
        const deadline = performance.now() + 10_000;
        while (containerizer.warmWaiting === 0 && performance.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      }
      return { firstOutputMs, exitMs };
    } finally {
      // A failed run leaves no container behind to take the next run's name.
      await containerizer.destroy(containerId);
    }
  };
}

interface Figures {
  first: number[];
  exit: number[];
}

/**
 * Runs every runner once per round, round after round, so that all of them see the same load of
 * a shared machine: the ratios between rows hold even when the absolute figures drift. A runner
 * that fails is dropped with its error, leaving the others' figures.
 */
async function measureInterleaved(
  runners: readonly (readonly [string, Runner])[],
): Promise<Map<string, Figures | Error>> {
  const results = new Map<string, Figures | Error>(
    runners.map(([name]) => [name, { first: [], exit: [] }]),
  );
  for (let i = 0; i < WARMUP + RUNS; i += 1) {
    for (const [name, runner] of runners) {
      const figures = results.get(name);
      if (figures === undefined || figures instanceof Error) continue;
      try {
        const timing = await runner(i);
        if (i < WARMUP) continue;
        figures.first.push(timing.firstOutputMs);
        figures.exit.push(timing.exitMs);
      } catch (error) {
        results.set(name, error instanceof Error ? error : new Error(String(error)));
      }
    }
  }
  for (const figures of results.values()) {
    if (figures instanceof Error) continue;
    figures.first.sort((a, b) => a - b);
    figures.exit.sort((a, b) => a - b);
  }
  return results;
}

export async function runContainersBenchmark(): Promise<string> {
  const root = mkdtempSync(join(tmpdir(), 'kiln-bench-containers-'));
  const rows: string[][] = [];
  let warm: Containerizer | undefined;
  try {
    const runners: [string, Runner][] = [
      ['bare `sh -c` spawn', bareSpawn('/bin/sh', ['-c', 'echo hi'])],
    ];
    const { containerizers, dockerCli, skipped } = await availableContainerizers(root);
    for (const containerizer of containerizers) {
      const image = containerizer.name === 'docker' ? BENCH_IMAGE : undefined;
      runners.push([
        `\`${containerizer.name}\` containerizer`,
        containerized(containerizer, root, image),
      ]);
    }
    const native = benchCgroupContainerizer(containerizers);
    warm = await warmCgroupContainerizer(root);
    if (native !== undefined && warm !== undefined) {
      runners.push([
        '`cgroup` containerizer, warm container (made before the task)',
        containerized(warm, root, undefined, undefined, true),
      ]);
    }
    if (native !== undefined) {
      runners.push(
        ['`cgroup` containerizer, network none', containerized(native, root, undefined, 'none')],
        [
          'plain `runc run`, own network (slirp4netns)',
          (i) => plainRuncRun(root, `p-${i}`, 'private'),
        ],
        ['plain `runc run`, network none', (i) => plainRuncRun(root, `n-${i}`, 'none')],
        [PLAIN_WITH_OUTPUT_HOOK, (i) => plainRuncRun(root, `o-${i}`, 'none', true)],
      );
    }
    if (dockerCli) {
      runners.push([
        '`docker run` CLI',
        bareSpawn('docker', [
          'run',
          '--rm',
          '--network',
          'none',
          BENCH_IMAGE,
          'sh',
          '-c',
          'echo hi',
        ]),
      ]);
    }
    let bare: Figures | undefined;
    const p50s = new Map<string, number>();
    for (const [name, figures] of await measureInterleaved(runners)) {
      if (figures instanceof Error) {
        // One runtime broken on this machine (a missing image…) leaves the others' figures.
        skipped.push(`${name}: ${figures.message}`);
        continue;
      }
      bare ??= figures;
      p50s.set(name, percentile(figures.exit, 50));
      const p50First = percentile(figures.first, 50);
      const p50Exit = percentile(figures.exit, 50);
      rows.push([
        name,
        p50First.toFixed(1),
        percentile(figures.first, 90).toFixed(1),
        p50Exit.toFixed(1),
        percentile(figures.exit, 90).toFixed(1),
        `+${(p50Exit - percentile(bare.exit, 50)).toFixed(1)} ms`,
      ]);
    }
    const notes = skipped.map((s) => `- not measured: ${s}`).join('\n');
    const verdicts = nativeVerdicts(p50s);
    return (
      table(
        ['runtime', 'first output p50 ms', 'p90', 'exit p50 ms', 'p90', 'exit p50 vs bare'],
        rows,
      ) +
      `\n\n${RUNS} runs each of \`echo hi\` after ${WARMUP} warm-up runs, one at a time, the` +
      ' runtimes taking turns (one run of each per round) so that all see the same load. First output' +
      " is when the line is in the task's stdout file (as the agent tails it). Anchors: a bare" +
      ' fork/exec is ~1–2 ms, crun ~17 ms and runc ~33 ms per `/bin/true` container, `docker run`' +
      ' 0.2–0.6 s. The warm row is the native containerizer as an agent runs it by default: each' +
      ' task is given a container made ahead of it (after the run before it, untimed), and is' +
      " timed from the take that renames the container's sandbox to its own, through its" +
      ' command delivered and the word given, to its line and its end.' +
      (verdicts === '' ? '' : `\n\n${verdicts}`) +
      (notes === '' ? '' : `\n\n${notes}`)
    );
  } finally {
    await warm?.close?.();
    rmSync(root, { recursive: true, force: true });
    removeBenchCgroupParent();
  }
}

/** The runtime that prices the output hook: plain runc with it (see {@link outputHookCost}). */
const PLAIN_WITH_OUTPUT_HOOK =
  "plain `runc run`, network none, with the native containerizer's output hook";

/**
 * The native containerizer beside plain `runc run` of the same configuration, with and without
 * the user-mode network (aim: within 1.2×), and slirp4netns's own start cost.
 */
function nativeVerdicts(p50s: ReadonlyMap<string, number>): string {
  const native = p50s.get('`cgroup` containerizer');
  const nativeNone = p50s.get('`cgroup` containerizer, network none');
  const plain = p50s.get('plain `runc run`, own network (slirp4netns)');
  const plainNone = p50s.get('plain `runc run`, network none');
  if ([native, nativeNone, plain, plainNone].some((p) => p === undefined)) return '';
  const verdict = (ratio: number) => (ratio <= 1.2 ? 'met' : '**missed**');
  const row = (what: string, ours: number, floor: number): string[] => [
    what,
    `${ours.toFixed(1)} ms`,
    `${floor.toFixed(1)} ms`,
    `${(ours / floor).toFixed(2)}×`,
    verdict(ours / floor),
  ];
  return (
    table(
      [
        'native containerizer vs plain runc (exit p50)',
        'cgroup',
        'plain runc',
        'ratio',
        'aim ≤ 1.2×',
      ],
      [
        row('own network (slirp4netns), the default', native!, plain!),
        row('network none', nativeNone!, plainNone!),
      ],
    ) +
    `\n\nslirp4netns's own start cost (plain runc with it minus without): ` +
    `${(plain! - plainNone!).toFixed(1)} ms at p50. Plain \`runc run\` runs the containerizer's own` +
    ' OCI configuration (namespaces, id mapping, read-only mounts, seccomp, limits); its' +
    " preparation (bundle, workspace ownership) is not timed, the containerizer's is." +
    outputHookCost(p50s.get(PLAIN_WITH_OUTPUT_HOOK), plainNone!)
  );
}

/**
 * What the output hook costs, which plain runc is measured without: the first `createRuntime`
 * hook of every native container, a `sh` that starts `chown` and `chmod` (three program starts),
 * by which the container's output pipes are taken back from it (see docs/security.md).
 */
function outputHookCost(withHook: number | undefined, without: number): string {
  if (withHook === undefined) return '';
  return (
    ` The native containerizer also runs its output hook, which plain runc is measured without:` +
    ` a \`sh\` that starts \`chown\` and \`chmod\` before the container's process starts, so that` +
    ` the task cannot read its own output pipes (and the build script's step markers in them).` +
    ` Its cost (plain runc, network none, with it minus without): ${(withHook - without).toFixed(1)}` +
    ` ms at p50.`
  );
}

if (require.main === module) {
  runContainersBenchmark()
    .then((body) => reportSection('containers', 'Container start latency', body))
    .catch((error: unknown) => {
      process.stderr.write(`${String(error)}\n`);
      process.exit(1);
    });
}
