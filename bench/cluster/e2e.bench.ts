// End-to-end cluster throughput: a real master and 4 real agents (process containerizer), one
// framework launching trivial tasks (`true`). Measures tasks launched and finished per second and
// the latency from ACCEPT to TASK_RUNNING as the framework sees it, beside its peers in the same
// run: the bare spawn of the same command at the same concurrency (the machine's limit) and Slurm
// running the same tasks as a job array.
// Run with `npm run bench:cluster` (needs `npm run build` first; Slurm needs root on Debian).
import { cpus } from 'node:os';
import { KilnProcess } from '../../test/e2e/support/kiln-process';
import type { TaskInfo } from '@kiln/contracts';
import { shellTask, TestFramework } from '../../test/e2e/support/test-framework';
import { percentile, reportSection, table } from '../support/report';
import { bareSpawnThroughput, slurmThroughput } from './peers';
import { pipelineThroughput } from './pipeline-throughput';

const TOKEN = 'bench-cluster-token-0123456789';
const AGENTS = 4;
const TASKS = Number(process.env.BENCH_TASKS ?? 2_000);
const PIPELINE_RUNS = Number(process.env.BENCH_PIPELINE_RUNS ?? 500);
/**
 * Tasks each system runs first, uncounted: Kiln's processes are measured warm (its JavaScript
 * compiled, its connections open), as a cluster that has been up a while is, and the peers get
 * the same.
 */
const WARMUP = Math.max(100, Math.round(TASKS / 10));

/** Tasks the 4 agents run at once: 8 cpus each, a quarter cpu per task. */
const SLOTS = 32;

export async function runClusterE2eBenchmark(): Promise<string> {
  const bare = await bareSpawnThroughput(TASKS, SLOTS, WARMUP);
  const kiln = await kilnThroughput(TASKS);
  const halfRate = kiln.tasksPerSecond / 2;
  // Twenty seconds of the half load, at least 200 tasks: enough for a p99.
  const paced = await kilnThroughput(Math.max(200, Math.round(halfRate * 20)), halfRate);
  let slurm: Awaited<ReturnType<typeof slurmThroughput>> | Error;
  try {
    slurm = await slurmThroughput(TASKS, cpus().length, WARMUP);
  } catch (error) {
    slurm = error instanceof Error ? error : new Error(String(error));
  }
  const pipeline = await pipelineThroughput(PIPELINE_RUNS);
  const ratio = (tasksPerSecond: number): string => `${(tasksPerSecond / bare).toFixed(2)}×`;
  const rows = [
    ['(a) bare spawn, 32 at a time', bare.toFixed(0), '1.00×', '—', '—'],
    [
      '(b) Kiln: master + 4 agents',
      kiln.tasksPerSecond.toFixed(0),
      ratio(kiln.tasksPerSecond),
      `${kiln.p50.toFixed(1)} ms`,
      `${kiln.p99.toFixed(1)} ms`,
    ],
    [
      `(b') Kiln at half that load, ${halfRate.toFixed(0)} tasks/s offered`,
      paced.tasksPerSecond.toFixed(0),
      ratio(paced.tasksPerSecond),
      `${paced.p50.toFixed(1)} ms`,
      `${paced.p99.toFixed(1)} ms`,
    ],
    slurm instanceof Error
      ? ['(c) Slurm 22.05, one node, job array', `not measured: ${slurm.message}`, '—', '—', '—']
      : [
          '(c) Slurm, one node, job array',
          slurm.tasksPerSecond.toFixed(0),
          ratio(slurm.tasksPerSecond),
          '—',
          '—',
        ],
    [
      `(d) whole pipeline: ${PIPELINE_RUNS} one-job runs`,
      `${pipeline.runsPerSecond.toFixed(1)} runs/s`,
      ratio(pipeline.runsPerSecond),
      `queued → running ${pipeline.queuedToRunning.p50.toFixed(0)} ms`,
      `${pipeline.queuedToRunning.p99.toFixed(0)} ms`,
    ],
  ];
  const versus =
    slurm instanceof Error
      ? ''
      : ` Kiln ran ${(kiln.tasksPerSecond / slurm.tasksPerSecond).toFixed(1)}× Slurm's throughput.`;
  return (
    table(['what', 'tasks/s', 'ratio to (a)', 'ACCEPT → RUNNING p50', 'p99'], rows) +
    `\n\n${TASKS} tasks of \`/bin/sh -c true\` each, measured one after the other in this run,` +
    ` each after ${WARMUP} of the same tasks that are not counted (Kiln's warm-up at the same` +
    ' load as what it precedes).' +
    ' (b): one master and 4 agents (8 cpus each, 32 task slots in all) as separate processes on' +
    ' the same machine with the `process` containerizer (each agent starting its tasks from' +
    ' its launcher, a small process of its own, rather than forking itself), and one framework' +
    ' on a WebSocket (as' +
    " Kiln's build framework); all tasks queued at once, so ACCEPT → RUNNING includes the wait of" +
    ' a task behind the others an agent launches at once, on the cores shared by all processes.' +
    " (b'): the same cluster, the tasks offered at a steady half of (b)'s rate; ACCEPT → RUNNING" +
    ' is the latency of a task at that load (aim: p99 ≤ 100 ms).' +
    ` (c): slurmctld and slurmd on this host, \`sbatch --array=1-${TASKS} --wrap=true\`, from` +
    ' submission until the queue is empty' +
    (slurm instanceof Error ? '.' : ` (${slurm.setup.join('; ')}).`) +
    versus +
    ` (d): manual runs (\`POST /api/v1/repositories/:id/runs\`, 16 at a time) of a one-job` +
    ' `.kiln.yml` through the server, BullMQ, the build framework, the master and one agent' +
    ' (8 cpus, `process` containerizer) that checks the commit out from `git daemon` and runs' +
    ` \`true\`; runs/s from the first run created to the last ended; the job's queued → running` +
    ` from its record${pipeline.failed === 0 ? '' : `; ${pipeline.failed} run(s) did not succeed`}.` +
    " For scale: Nomad's C1M run started 3,750 containers/s across thousands of hosts, and the" +
    ' Kubernetes scheduler places about 100–900 pods/s.'
  );
}

interface KilnFigures {
  tasksPerSecond: number;
  p50: number;
  p99: number;
}

/**
 * (b): Kiln's master and 4 agents, one framework on a WebSocket as Kiln's own are. Without
 * `ratePerSecond`, all tasks are queued at once (the maximum throughput); with it, they are
 * offered at that steady rate, and ACCEPT → RUNNING is the latency a task sees at that load.
 */
async function kilnThroughput(tasks: number, ratePerSecond?: number): Promise<KilnFigures> {
  const processes: KilnProcess[] = [];
  try {
    const master = KilnProcess.start('master', {
      KILN_CLUSTER_TOKEN: TOKEN,
      KILN_LOG_LEVEL: 'warn',
    });
    processes.push(master);
    const url = await master.url();
    for (let i = 0; i < AGENTS; i += 1) {
      const agent = KilnProcess.start('agent', {
        KILN_CLUSTER_TOKEN: TOKEN,
        KILN_MASTER_URL: url,
        KILN_AGENT_HOSTNAME: `bench-${i}`,
        KILN_AGENT_RESOURCES: 'cpus:8;mem:8192;disk:1000',
        KILN_AGENT_CONTAINERIZERS: 'process',
        KILN_LOG_LEVEL: 'info',
      });
      processes.push(agent);
      await agent.url();
    }
    const framework = await TestFramework.start(
      url,
      TOKEN,
      { name: 'bench', roles: ['bench'] },
      { transport: 'websocket' },
    );
    const task = (id: string): TaskInfo => ({
      ...shellTask(id, 'true'),
      resources: { cpus: 0.25, mem: 16, disk: 0, ports: [] },
    });
    await runTasks(framework, 'warmup', WARMUP, task, ratePerSecond);
    const { seconds, latencies } = await runTasks(framework, 'task', tasks, task, ratePerSecond);
    await framework.close();
    return {
      tasksPerSecond: tasks / seconds,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
    };
  } finally {
    await Promise.all(processes.map((p) => p.dispose()));
  }
}

/**
 * Launches `count` tasks named `<prefix>-<i>` (all at once, or at `ratePerSecond`) and waits for
 * them to finish: the seconds that took, and each task's ACCEPT → first TASK_RUNNING, sorted.
 */
async function runTasks(
  framework: TestFramework,
  prefix: string,
  count: number,
  task: (id: string) => TaskInfo,
  ratePerSecond: number | undefined,
): Promise<{ seconds: number; latencies: number[] }> {
  const ours = (taskId: string): boolean => taskId.startsWith(`${prefix}-`);
  const started = Date.now();
  if (ratePerSecond === undefined) {
    for (let i = 0; i < count; i += 1) framework.launch(task(`${prefix}-${i}`));
  } else {
    // Every 10 ms, the tasks due by then: a steady offered load, not a burst.
    let launched = 0;
    const pacer = setInterval(() => {
      const due = Math.min(count, Math.floor(((Date.now() - started) / 1000) * ratePerSecond));
      while (launched < due) framework.launch(task(`${prefix}-${launched++}`));
      if (launched >= count) clearInterval(pacer);
    }, 10);
  }
  // Counted as they arrive: the bench shares the cores it measures, and going through every
  // arrival so far 50 times a second was a quarter of its own time at half load (16 % of a core
  // against 12 %, 200 tasks/s).
  let seen = 0;
  let done = 0;
  await framework.waitFor(
    () => {
      for (const { state, taskId } of framework.arrivals.slice(seen)) {
        if (state === 'TASK_FINISHED' && ours(taskId)) done += 1;
      }
      seen = framework.arrivals.length;
      return done >= count ? done : undefined;
    },
    10 * 60_000,
    `${count} ${prefix} tasks finished`,
  );
  const seconds = (Date.now() - started) / 1000;
  const acceptedAt = new Map(
    framework.launched.filter((l) => ours(l.taskId)).map((l) => [l.taskId, l.at]),
  );
  // At least once: an update may arrive twice; the first arrival is what the framework saw.
  const firstRunning = new Map<string, number>();
  for (const a of framework.arrivals) {
    if (a.state === 'TASK_RUNNING' && ours(a.taskId) && !firstRunning.has(a.taskId)) {
      firstRunning.set(a.taskId, a.at);
    }
  }
  const latencies = [...firstRunning]
    .map(([taskId, at]) => at - (acceptedAt.get(taskId) ?? at))
    .sort((a, b) => a - b);
  return { seconds, latencies };
}

if (require.main === module) {
  runClusterE2eBenchmark()
    .then((body) =>
      reportSection('cluster-e2e', 'Cluster end to end (master + 4 agents) beside its peers', body),
    )
    .catch((error: unknown) => {
      process.stderr.write(`${String(error)}\n`);
      process.exit(1);
    });
}
