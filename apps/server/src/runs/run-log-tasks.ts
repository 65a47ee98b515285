import { JobsRepository, RunsRepository, TERMINAL_JOB_STATES } from '@kiln/persistence';
import { Injectable } from '@nestjs/common';
import { LogTasks, type JobAttempts } from '../logs/log-tasks';
import { planOf } from './job-plan';
import { JobSecrets } from './job-secrets';

/** What the logs need of jobs and their tasks: the values to mask, the steps, the attempts. */
@Injectable()
export class RunLogTasks extends LogTasks {
  constructor(
    private readonly jobs: JobsRepository,
    private readonly runs: RunsRepository,
    private readonly jobSecrets: JobSecrets,
  ) {
    super();
  }

  async forIngest(taskId: string): Promise<{ secrets: string[]; stepNames: string[] } | undefined> {
    const job = await this.jobs.findByTaskId(taskId);
    const run = job && (await this.runs.findById(job.runId));
    if (job === undefined || run === undefined) return undefined;
    const plan = planOf(job);
    const secrets = await this.jobSecrets.of(run, plan.secrets);
    return { secrets: Object.values(secrets), stepNames: plan.steps.map((step) => step.name) };
  }

  async ofJob(jobId: string): Promise<JobAttempts | undefined> {
    const job = await this.jobs.findById(jobId);
    if (job === undefined) return undefined;
    // Each attempt's own record: an attempt that never launched a task leaves no gap to count.
    const attempts = (await this.jobs.attempts([job])).get(job.id) ?? [];
    return {
      attempt: job.attempt,
      taskIds: new Map(
        attempts.flatMap((a) => (a.taskId === undefined ? [] : [[a.attempt, a.taskId] as const])),
      ),
      ended: TERMINAL_JOB_STATES.includes(job.state),
    };
  }
}
