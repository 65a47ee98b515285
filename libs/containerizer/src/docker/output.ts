import type Docker from 'dockerode';
import { lstat } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import { SandboxOutput } from './docker-support';

/*
 * A task's output, which the engine sends and the agent appends to the sandbox's files: written
 * by the agent, never by the task, so that the task cannot replace them.
 */

export interface Output {
  /** Settles once everything the engine sent has been appended to the sandbox files. */
  readonly done: Promise<void>;
  /** Gives up on the engine's stream, keeping what was written. */
  abort(): void;
}

/** Appends the engine's multiplexed output stream to the sandbox files. */
export function pipeOutput(
  docker: Docker,
  stream: NodeJS.ReadableStream,
  stdout: SandboxOutput,
  stderr: SandboxOutput,
): Output {
  let ended = false;
  let end!: () => void;
  const done = new Promise<void>((resolve) => {
    end = () => {
      if (ended) return;
      ended = true;
      stdout.end();
      stderr.end();
      Promise.all([finished(stdout), finished(stderr)]).then(
        () => resolve(),
        () => resolve(),
      );
    };
  });
  docker.modem.demuxStream(stream, stdout, stderr);
  stream.once('end', end);
  stream.once('close', end);
  // `on`, not `once`: an 'error' nobody listens to (a second one, or a full disk under the
  // sandbox files) would take the whole agent down, not just this task's output.
  stream.on('error', end);
  for (const output of [stdout, stderr]) output.on('error', end);
  return {
    done,
    abort: () => {
      (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
      end();
    },
  };
}

/** A sandbox output file to go on with after a restart, skipping the `offset` bytes before the task's. */
export async function resumedOutput(path: string, offset: number): Promise<SandboxOutput> {
  const size = await lstat(path).then(
    (s) => s.size,
    () => 0,
  );
  return new SandboxOutput(path, size - offset).opened();
}
