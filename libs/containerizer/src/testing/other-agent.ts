import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import type { ContainerSpec, LaunchResult } from '../containerizer';

const ROOT = resolve(__dirname, '../../../..');

/**
 * Launches `spec` from another Node process that then exits, as an agent that dies after a launch
 * would: the task is left running, its parent gone, for a `recover` in this process to find.
 */
export async function launchFromAnotherAgent(
  runtimeDir: string,
  spec: ContainerSpec,
): Promise<{ result: LaunchResult; checkpoint: Record<string, unknown> }> {
  const script = resolve(__dirname, 'agent-process.ts');
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', script, runtimeDir, JSON.stringify(spec)],
    // tsx reads tsconfig.json's paths from the working directory.
    { cwd: ROOT, encoding: 'utf8', timeout: 30_000 },
  );
  const launched = JSON.parse(stdout) as {
    result: LaunchResult;
    checkpoint?: Record<string, unknown>;
  };
  if (launched.checkpoint === undefined) {
    throw new Error(`the other agent launched nothing: ${JSON.stringify(launched.result)}`);
  }
  return { result: launched.result, checkpoint: launched.checkpoint };
}
