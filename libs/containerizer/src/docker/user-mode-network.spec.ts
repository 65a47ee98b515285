import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startUserModeNetwork, stopUserModeNetworks, userModeNetworks } from './user-mode-network';

describe('the user-mode network of a Docker task', () => {
  const owner = `spec-${randomUUID()}`;
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-user-mode-network-'));
  });
  afterEach(async () => {
    await stopUserModeNetworks([...(await userModeNetworks(owner)).values()].flat());
    await rm(dir, { recursive: true, force: true });
  });

  /** A stand-in named slirp4netns (a script keeps its file's name as its process name). */
  async function fakeSlirp4netns(body: string): Promise<string> {
    const path = join(dir, 'slirp4netns');
    await writeFile(path, `#!/bin/sh\n${body}\n`);
    await chmod(path, 0o755);
    return path;
  }

  /** A stand-in nsenter that records its arguments: never the host's own namespace's rules. */
  async function fakeNsenter(): Promise<string> {
    const path = join(dir, 'nsenter');
    await writeFile(path, `#!/bin/sh\necho "$@" >> '${join(dir, 'fences')}'\n`);
    await chmod(path, 0o755);
    return path;
  }

  it('starts slirp4netns, waits until it is ready, finds it by its mark and stops it', async () => {
    // Says it is ready on the fd it is given, then stays, as slirp4netns does: blocked opening a
    // FIFO nobody writes, without a child (a forked child bears its name until it execs).
    const fifo = join(dir, 'never');
    await promisify(execFile)('mkfifo', [fifo]);
    const slirp4netns = await fakeSlirp4netns(
      `echo started >> '${join(dir, 'fences')}'; printf 1 >&3; exec 3>&-; read -r _ < '${fifo}'`,
    );
    const nsenter = await fakeNsenter();
    const pid = await startUserModeNetwork({
      slirp4netns,
      pid: 1,
      owner,
      containerId: 'task-a',
      nsenter,
    });
    expect(await userModeNetworks(owner)).toEqual(new Map([['task-a', [pid]]]));
    // The host's loopback is fenced off the task's tap device, before slirp4netns starts: the
    // holder runs the image's own code from its start.
    const [first, second, started] = (await readFile(join(dir, 'fences'), 'utf8'))
      .trim()
      .split('\n');
    expect([first, second].sort()).toEqual([
      '--net=/proc/1/ns/net ip rule add pref 1 oif tap0 to 0.0.0.0/8 prohibit',
      '--net=/proc/1/ns/net ip rule add pref 1 oif tap0 to 127.0.0.0/8 prohibit',
    ]);
    expect(started).toBe('started');
    // Another agent's tasks are not this one's.
    expect(await userModeNetworks(`${owner}-other`)).toEqual(new Map());

    await stopUserModeNetworks([pid]);
    expect(await userModeNetworks(owner)).toEqual(new Map());
  });

  it('fails, starting no slirp4netns, when the fence cannot be made', async () => {
    const slirp4netns = await fakeSlirp4netns(`echo started >> '${join(dir, 'started')}'`);
    await expect(
      startUserModeNetwork({ slirp4netns, pid: 1, owner, containerId: 'task-d', nsenter: 'false' }),
    ).rejects.toThrow("cannot fence the host's loopback off the task's network");
    await expect(readFile(join(dir, 'started'), 'utf8')).rejects.toThrow('ENOENT');
  });

  it('fails when slirp4netns ends without being ready, leaving nothing running', async () => {
    const slirp4netns = await fakeSlirp4netns('exit 1');
    await expect(
      startUserModeNetwork({
        slirp4netns,
        pid: 1,
        owner,
        containerId: 'task-b',
        nsenter: await fakeNsenter(),
      }),
    ).rejects.toThrow('slirp4netns ended before it was ready (exit code 1)');
    expect(await userModeNetworks(owner)).toEqual(new Map());
  });

  it('fails when slirp4netns says it is not ready, and stops it', async () => {
    const slirp4netns = await fakeSlirp4netns('printf 0 >&3; while :; do sleep 0.05; done');
    await expect(
      startUserModeNetwork({
        slirp4netns,
        pid: 1,
        owner,
        containerId: 'task-c',
        nsenter: await fakeNsenter(),
      }),
    ).rejects.toThrow('slirp4netns said it is not ready');
    // SIGKILLed: gone once reaped, which the wait below allows for.
    await expect.poll(async () => userModeNetworks(owner), { timeout: 5_000 }).toEqual(new Map());
  });
});
