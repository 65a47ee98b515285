import { ChildProcess } from 'node:child_process';
import { basename } from 'node:path';
import { vi } from 'vitest';
import { sharedLauncher } from '../launcher';

/**
 * The programs `work` starts by forking this process (the agent's, in a test) rather than from
 * its launcher, by name. The launcher is started first: it is the one program an agent forks,
 * once. Every spawn of Node's goes through `ChildProcess.prototype.spawn`, whichever function
 * the code called.
 */
export async function programsForked(work: () => Promise<void>): Promise<string[]> {
  sharedLauncher().warm();
  const spawn = vi.spyOn(
    ChildProcess.prototype as unknown as { spawn(options: { file: string }): unknown },
    'spawn',
  );
  try {
    await work();
    return spawn.mock.calls.map(([options]) => basename(options.file));
  } finally {
    spawn.mockRestore();
  }
}
