import { Launcher } from '@kiln/common';

/**
 * An agent whose own parent left it a descriptor, for the launcher's tests: run as
 * `node --import tsx descriptors-agent.ts`, it runs `ls /proc/self/fd` through a launcher of its
 * own and prints what that program held open, one descriptor a line.
 */
async function main(): Promise<void> {
  const ran = await new Launcher().run('/bin/ls', ['/proc/self/fd'], {
    cwd: '/',
    env: { PATH: '/usr/bin:/bin' },
  });
  process.stdout.write(ran.stdout);
  process.exit(0);
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
