import { openSync } from 'node:fs';
import { join } from 'node:path';
import { Launcher } from '@kiln/common';

/**
 * An agent that dies before its wrapper's go, for the launcher's tests: run as
 * `node --import tsx launching-agent.ts DIR`, it spawns a wrapper that appends to `DIR/output`
 * what it read from its standard input, prints the wrapper's pid and stat as one JSON line, and
 * waits, never writing the go, to be killed.
 */
async function main(): Promise<void> {
  const [dir] = process.argv.slice(2);
  if (dir === undefined) throw new Error('usage: launching-agent.ts DIR');
  const output = openSync(join(dir, 'output'), 'a');
  const wrapper = await new Launcher().spawn({
    file: '/bin/sh',
    args: ['-c', 'if read -r go; then touch ran; else echo "$$ read nothing"; fi'],
    cwd: dir,
    env: { PATH: '/usr/bin:/bin' },
    input: 'pipe',
    outputs: [output, output],
  });
  process.stdout.write(`${JSON.stringify({ pid: wrapper.pid, stat: wrapper.stat })}\n`);
  // Held open by the wait for the kill.
  setInterval(() => undefined, 60_000);
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
