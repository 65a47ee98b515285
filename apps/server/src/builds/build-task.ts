import type { PlanJob } from '@kiln/pipeline';
import type { ArtifactInputsInfo, TaskInfo } from '@kiln/contracts';
import { stepEndMarker, stepStartMarker } from '../logs/step-markers';

/** Everything about a job's run that its task needs, resolved by the runs service. */
export interface BuildContext {
  repository: { id: string; fullName: string };
  run: {
    id: string;
    number: number;
    event: string;
    ref: string;
    sha: string;
    branch?: string;
    tag?: string;
    pullRequest?: number;
  };
  job: { id: string; attempt: number; plan: PlanJob };
  /** The job's secrets in the clear; empty for a fork's pull request. */
  secrets: Record<string, string>;
  taskId: string;
  logSink: { url: string; token: string };
  /**
   * Where the agent fetches the commit: the server's mirror, with the task's token. The forge's
   * URL and token never reach an agent.
   */
  source: { url: string; packUrl: string; token: string };
  /** Where the job's artifacts go (with the log's token), if its plan keeps any. */
  artifactSink: { url: string; token: string };
  stepNonce: string;
  /** Set on a promote run: where it deploys to and the run whose artifacts it ships. */
  promotion?: { environment: string; promotedRun: { id: string; number: number } };
  /** Artifacts of the promoted run for the agent to place in the sandbox before the steps. */
  inputs?: ArtifactInputsInfo;
}

/** The user name an agent fetches its task's source as; the task's token is the password. */
export const TASK_SOURCE_USER = 'kiln-task';

/** A fresh task id for each launch of a job attempt (a relaunch must not collide). */
export function newTaskId(jobId: string, attempt: number, nonce: string): string {
  return `job-${jobId}-${attempt}-${nonce}`;
}

/**
 * The cluster task that runs one job attempt: its steps, in order, in one container, each in its
 * own `sh -e`, stopping at the first failure. Step scripts travel as environment variables, never
 * spliced into the script text, so no quoting can break out of them; markers around each step
 * (with the task's step nonce) let the server record step boundaries and exit codes. The nonce is
 * in the script's text only, which the native containerizer keeps from the steps (see its
 * `PRIVATE_SHELL` and `OUTPUT_HOOK`, and docs/security.md); under Docker a step can read it.
 *
 * A kill's SIGTERM goes to every process of the task's group (the containerizers see to that):
 * the running step gets it and may clean up in its own `trap … TERM` for the grace period. The
 * script around the steps only notes it: were it to die at once (a shell's default), the task's
 * main process would be gone and the container with it, step and trap included; and were it to
 * carry on, the next step would start. So it waits for the step, then stops.
 */
export function buildTask(context: BuildContext): TaskInfo {
  const { run, job, repository } = context;
  const plan = job.plan;
  const stepEnv: Record<string, string> = {};
  const lines = [
    'exec 2>&1',
    // The markers' own opening of the output (where it can be opened again: a pipe, a file),
    // which no step holds: a step can make its output non-blocking and fill it, so that writes
    // through its open file description fail, but not through this one.
    '{ command exec 3>>/proc/self/fd/1; } 2>/dev/null || exec 3>&1',
    'kiln_term=',
    // A step may signal the script too (it is the container's pid 1 and the step's parent): it
    // ends the job, but only once the step has, and after the step's true end is printed.
    "trap 'kiln_term=1' TERM INT QUIT HUP",
  ];
  plan.steps.forEach((step, idx) => {
    stepEnv[`KILN_STEP_${idx}`] = step.run;
    lines.push(
      // A marker that cannot be printed (a step lowered the script's limits) fails the job:
      // a step list without it would be a lie.
      `printf '%s\\n' "${stepStartMarker(context.stepNonce, idx)}" >&3 || exit 125`,
      `sh -ec "$KILN_STEP_${idx}" 3>&-`,
      'kiln_code=$?',
      `printf '%s\\n' "${stepEndMarker(context.stepNonce, idx, '$kiln_code')}" >&3 || exit 125`,
      // 128 + SIGTERM: what the task would have ended with, had nothing trapped it.
      '[ -z "$kiln_term" ] || exit 143',
      '[ "$kiln_code" -eq 0 ] || exit "$kiln_code"',
    );
  });
  const environment: Record<string, string> = {
    ...plan.env,
    ...context.secrets,
    ...stepEnv,
    CI: 'true',
    KILN: 'true',
    KILN_REPOSITORY: repository.fullName,
    KILN_RUN_ID: run.id,
    KILN_RUN_NUMBER: String(run.number),
    KILN_JOB: plan.key,
    KILN_JOB_ID: job.id,
    KILN_JOB_ATTEMPT: String(job.attempt),
    KILN_EVENT: run.event,
    KILN_REF: run.ref,
    KILN_COMMIT_SHA: run.sha,
    ...(run.branch === undefined ? {} : { KILN_BRANCH: run.branch }),
    ...(run.tag === undefined ? {} : { KILN_TAG: run.tag }),
    ...(run.pullRequest === undefined ? {} : { KILN_PULL_REQUEST: String(run.pullRequest) }),
    ...(context.promotion === undefined
      ? {}
      : {
          KILN_ENVIRONMENT: context.promotion.environment,
          KILN_PROMOTED_RUN: String(context.promotion.promotedRun.number),
          KILN_PROMOTED_RUN_ID: context.promotion.promotedRun.id,
        }),
  };
  return {
    taskId: context.taskId,
    name: `${repository.fullName} #${run.number} ${plan.key}`.slice(0, 256),
    command: { shell: true, value: lines.join('\n'), environment },
    resources: { cpus: plan.resources.cpus, mem: plan.resources.mem, disk: 0, ports: [] },
    ...(plan.image === undefined ? {} : { container: { type: 'docker', image: plan.image } }),
    // By commit id, not ref: the mirror serves any commit it has, and the ref may have moved on.
    source: {
      url: context.source.url,
      packUrl: context.source.packUrl,
      sha: run.sha,
      username: TASK_SOURCE_USER,
      password: context.source.token,
      cacheKey: repository.id,
    },
    maxCompletionTimeSeconds: plan.timeoutSeconds,
    labels: { 'kiln.run': run.id, 'kiln.job': job.id },
    logSink: context.logSink,
    ...(plan.artifacts.length === 0
      ? {}
      : { artifacts: { patterns: [...plan.artifacts], ...context.artifactSink } }),
    ...(context.inputs === undefined || context.inputs.files.length === 0
      ? {}
      : {
          inputs: {
            token: context.inputs.token,
            files: context.inputs.files.map((file) => ({ ...file })),
          },
        }),
  };
}
