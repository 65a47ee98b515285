// (d) of `bench:cluster`: the whole pipeline under load. Manual runs of a one-job `.kiln.yml`
// go through the server (run created, `.kiln.yml` read at the commit and compiled), BullMQ, the
// build framework, the master's offers and one agent, which checks the commit out and runs `true`.
import { freePort } from '@kiln/queue/testing';
import { GitDaemon } from '../../test/e2e/support/git-daemon';
import { PipelineStack } from '../../test/e2e/support/pipeline-stack';
import { percentile } from '../support/report';

const PIPELINE = `
jobs:
  trivial:
    resources: { cpus: 0.25, mem: 16 }
    steps:
      - run: 'true'
`;
/** How many run creations are in flight at once. */
const SENDERS = 16;

export interface PipelineThroughput {
  runs: number;
  runsPerSecond: number;
  /** A job's `queuedAt` → `startedAt` (its task reported running), per job, in ms. */
  queuedToRunning: { p50: number; p99: number };
  failed: number;
}

interface TimedJob {
  queuedAt?: string;
  startedAt?: string;
}

interface TimedRun {
  state: string;
  createdAt: string;
  finishedAt?: string;
  jobs: TimedJob[];
}

export async function pipelineThroughput(runs: number): Promise<PipelineThroughput> {
  let stack: PipelineStack | undefined;
  let git: GitDaemon | undefined;
  try {
    git = await GitDaemon.start(await freePort());
    stack = await PipelineStack.start({
      logLevel: 'warn',
      agentEnv: {
        KILN_AGENT_RESOURCES: 'cpus:8;mem:8192;disk:4096',
        KILN_AGENT_CONTAINERIZERS: 'process',
      },
    });
    const commit = git.createRepository('throughput');
    commit({ '.kiln.yml': PIPELINE });
    const repo = await stack.ok<{ id: string }>('POST', '/api/v1/repositories', {
      forge: 'github',
      fullName: 'acme/throughput',
      cloneUrl: git.url('throughput'),
    });
    const ids: string[] = [];
    let next = 0;
    const sender = async (): Promise<void> => {
      while (next < runs) {
        next += 1;
        const run = await stack!.ok<{ id: string }>(
          'POST',
          `/api/v1/repositories/${repo.id}/runs`,
          { branch: 'main' },
        );
        ids.push(run.id);
      }
    };
    await Promise.all(Array.from({ length: SENDERS }, sender));
    const ended: TimedRun[] = [];
    for (const id of ids) {
      ended.push((await stack.waitForRun(id, undefined, 10 * 60_000)) as unknown as TimedRun);
    }
    const first = Math.min(...ended.map((run) => Date.parse(run.createdAt)));
    const last = Math.max(...ended.map((run) => Date.parse(run.finishedAt ?? run.createdAt)));
    const waits = ended
      .flatMap((run) => run.jobs)
      .filter((job) => job.queuedAt !== undefined && job.startedAt !== undefined)
      .map((job) => Date.parse(job.startedAt!) - Date.parse(job.queuedAt!))
      .sort((a, b) => a - b);
    return {
      runs,
      runsPerSecond: runs / ((last - first) / 1000),
      queuedToRunning: { p50: percentile(waits, 50), p99: percentile(waits, 99) },
      failed: ended.filter((run) => run.state !== 'success').length,
    };
  } finally {
    await Promise.allSettled([stack?.dispose(), git?.stop()]);
  }
}
