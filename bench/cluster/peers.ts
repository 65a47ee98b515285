// The peers `bench:cluster` measures Kiln against in the same run: the machine's own limit for
// trivial processes, and Slurm, the batch scheduler HPC sites launch job arrays with.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The physical limit: one Node process spawning `/bin/sh -c true`, `concurrency` at a time, the
 * same command Kiln's tasks run, after `warmup` spawns that are not counted. Returns tasks per
 * second.
 */
export async function bareSpawnThroughput(
  tasks: number,
  concurrency: number,
  warmup: number,
): Promise<number> {
  const spawnAll = async (count: number): Promise<void> => {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < count) {
        next += 1;
        const child = spawn('/bin/sh', ['-c', 'true'], { stdio: 'ignore' });
        await once(child, 'exit');
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  };
  await spawnAll(warmup);
  const started = process.hrtime.bigint();
  await spawnAll(tasks);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return tasks / seconds;
}

export interface SlurmResult {
  tasksPerSecond: number;
  /** What the bench did to the host to get Slurm running, for the report. */
  setup: string[];
}

const SLURM_PACKAGES = ['slurm-wlm', 'munge'];

/**
 * Slurm on one node, as Debian packages it (slurmctld + slurmd, munge for authentication): a job
 * array of `tasks` × `true`, from `sbatch` until the queue is empty, after a first array of
 * `warmup` that is not counted. Installs the packages when
 * missing (as root, Debian), writes its own configuration into a temporary directory, starts
 * munged, slurmctld and slurmd, and stops the two Slurm daemons again.
 */
export async function slurmThroughput(
  tasks: number,
  cpus: number,
  warmup: number,
): Promise<SlurmResult> {
  const setup: string[] = [];
  if (!has('sbatch') || !has('munged')) {
    const install = spawnSync('apt-get', ['install', '-y', '-qq', ...SLURM_PACKAGES], {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      stdio: 'ignore',
    });
    if (install.status !== 0) {
      throw new Error(
        `Slurm is not installed and apt-get install ${SLURM_PACKAGES.join(' ')} failed`,
      );
    }
    setup.push(`installed ${SLURM_PACKAGES.join(', ')} from the OS packages`);
  }
  startMunge(setup);
  const dir = mkdtempSync(join(tmpdir(), 'kiln-bench-slurm-'));
  const node = hostname().split('.')[0] ?? 'localhost';
  const conf = join(dir, 'slurm.conf');
  for (const sub of ['state', 'spool']) mkdirSync(join(dir, sub));
  chmodSync(dir, 0o755);
  writeFileSync(
    conf,
    [
      'ClusterName=kilnbench',
      `SlurmctldHost=${node}`,
      'SlurmUser=root',
      'SlurmdUser=root',
      'AuthType=auth/munge',
      'ProctrackType=proctrack/linuxproc',
      'TaskPlugin=task/none',
      'SelectType=select/cons_tres',
      'SelectTypeParameters=CR_CPU',
      'MaxArraySize=100001',
      'MaxJobCount=200000',
      'SchedulerParameters=defer,sched_min_interval=0,batch_sched_delay=0',
      'SlurmctldPort=16817',
      'SlurmdPort=16818',
      `StateSaveLocation=${join(dir, 'state')}`,
      `SlurmdSpoolDir=${join(dir, 'spool')}`,
      `SlurmctldPidFile=${join(dir, 'slurmctld.pid')}`,
      `SlurmdPidFile=${join(dir, 'slurmd.pid')}`,
      `SlurmctldLogFile=${join(dir, 'slurmctld.log')}`,
      `SlurmdLogFile=${join(dir, 'slurmd.log')}`,
      'ReturnToService=2',
      `NodeName=${node} CPUs=${cpus} State=UNKNOWN`,
      `PartitionName=bench Nodes=${node} Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:32`,
      '',
    ].join('\n'),
  );
  const env = { ...process.env, SLURM_CONF: conf };
  const daemons = [
    spawn('slurmctld', ['-D', '-i', '-f', conf], { env, stdio: 'ignore' }),
    spawn('slurmd', ['-D', '-f', conf], { env, stdio: 'ignore' }),
  ];
  setup.push(
    'started slurmctld and slurmd on one node (a configuration of its own, ports 16817–8)',
  );
  try {
    await until(() => run('sinfo', ['-h', '-o', '%T'], env).includes('idle'), 60_000, 'Slurm idle');
    const array = async (count: number): Promise<void> => {
      run(
        'sbatch',
        ['--array', `1-${count}`, '--oversubscribe', '--output=/dev/null', '--wrap=true'],
        env,
      );
      await until(() => run('squeue', ['-h', '-r'], env).trim() === '', 30 * 60_000, 'array done');
    };
    await array(warmup);
    const started = process.hrtime.bigint();
    await array(tasks);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return { tasksPerSecond: tasks / seconds, setup };
  } finally {
    for (const daemon of daemons) daemon.kill('SIGTERM');
    await Promise.all(daemons.map((daemon) => once(daemon, 'exit')));
    rmSync(dir, { recursive: true, force: true });
  }
}

function startMunge(setup: string[]): void {
  if (spawnSync('pgrep', ['-x', 'munged']).status === 0) return;
  for (const dir of ['/run/munge', '/var/lib/munge', '/var/log/munge']) {
    mkdirSync(dir, { recursive: true });
  }
  execFileSync('chown', [
    '-R',
    'munge:munge',
    '/etc/munge',
    '/var/lib/munge',
    '/var/log/munge',
    '/run/munge',
  ]);
  execFileSync('runuser', ['-u', 'munge', '--', 'munged', '--force', '--num-threads=10']);
  setup.push('started munged');
}

function has(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): string {
  const result = spawnSync(command, args, { env, encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr || result.stdout}`);
  }
  return result.stdout;
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (check()) return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
