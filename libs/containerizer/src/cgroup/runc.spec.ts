import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import {
  chmod,
  mkdir,
  mkdtemp,
  open,
  readFile,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  GATE_HOOK,
  GATE_OPEN,
  gateHook,
  networkHook,
  outputHook,
  refuseAtGate,
  shimArguments,
} from './runc';

/** Runs `/bin/sh` with `args`, `input` on its standard input: its exit code. */
function sh(args: string[], input = '', cwd?: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', args, { cwd, stdio: ['pipe', 'ignore', 'ignore'] });
    child.once('error', reject);
    child.once('exit', resolve);
    child.stdin.end(input);
  });
}

/** The text of a file another process writes, once it is there. */
async function eventuallyRead(path: string): Promise<string> {
  let text: string | undefined;
  await vi.waitFor(async () => {
    text = (await readFile(path, 'utf8')).trim();
  });
  return text!;
}

const PLAIN = {
  runc: 'runc',
  stateDir: '/run/kiln/runc',
  bundle: '.runc',
  containerId: 'c1',
  exitFile: '.exit_code',
  networkPidFile: '/run/kiln/network/c1.pid',
  pidFile: '/run/kiln/pids/c1',
};

describe('runc shim and network hook', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-runc-spec-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function fakeProgram(name: string, body: string): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, `#!/bin/sh\n${body}\n`);
    await chmod(path, 0o755);
    return path;
  }

  /** The arguments of a shim running `runc`, its exit code to `<dir>/.exit_code`. */
  const shimFor = (
    runc: string,
    gate?: string,
    delivered?: { checkoutReport: string; text?: string },
  ): string[] =>
    shimArguments({
      runc,
      stateDir: dir,
      bundle: dir,
      containerId: 'c1',
      exitFile: join(dir, '.exit_code'),
      networkPidFile: join(dir, 'missing.pid'),
      pidFile: join(dir, 'pid'),
      ...(gate === undefined ? {} : { gate }),
      ...delivered,
    });

  it('passes runc the report as descriptor 3, the text as 4 and the word as 5, and tells it to keep them', async () => {
    // What the private shell does with them: the word first, then the text.
    const runc = await fakeProgram(
      'runc',
      'echo "$@" > "$(dirname "$0")/args"; read -r word <&5; echo "$word" > "$(dirname "$0")/word"\n' +
        'cat <&4 > "$(dirname "$0")/got"; echo reported >&3',
    );
    await writeFile(join(dir, 'text'), 'kiln-text -\nmake');
    await writeFile(join(dir, 'report'), '');
    const delivered = { checkoutReport: join(dir, 'report'), text: join(dir, 'text') };
    // Gated (the word through the FIFO) or not (the word the shim got before it ran runc).
    for (const gate of [join(dir, 'gate'), undefined]) {
      await writeFile(join(dir, 'report'), '');
      await rm(join(dir, 'word'), { force: true });
      expect(await sh(shimFor(runc, gate, delivered), GATE_OPEN)).toBe(0);
      expect(await readFile(join(dir, 'args'), 'utf8')).toContain('run --keep --preserve-fds 3 ');
      expect(await readFile(join(dir, 'word'), 'utf8')).toBe('go\n');
      expect(await readFile(join(dir, 'got'), 'utf8')).toBe('kiln-text -\nmake');
      expect(await readFile(join(dir, 'report'), 'utf8')).toBe('reported\n');
    }
    expect(() => shimArguments({ ...PLAIN, gate: 'gate', text: 'text' })).toThrow(
      /checkout report/,
    );
  });

  it("records runc's exit code whole, outside the container, and exits with it", async () => {
    const runc = await fakeProgram('runc', 'exit 7');
    const code = await sh(shimFor(runc), GATE_OPEN);
    expect(code).toBe(7);
    expect(await readFile(join(dir, '.exit_code'), 'utf8')).toBe('7\n');
  });

  it('runs nothing until the agent says go: a shim its agent never heard back from starts nothing', async () => {
    const ran = join(dir, 'ran');
    const runc = await fakeProgram('runc', `touch ${ran}`);
    const code = await sh(shimFor(runc));
    expect(code).toBe(125);
    expect(existsSync(ran)).toBe(false);
  });

  it("gives the output pipes of the state's process to root, writable by its group only", async () => {
    // A process whose output is a pipe, as runc's container process's is (Node's are sockets).
    const pidFile = join(dir, 'pid');
    const child = spawn(
      '/bin/sh',
      [
        '-c',
        `sh -c 'echo $$ > "$1.tmp" && mv "$1.tmp" "$1" && exec sleep 30' _ '${pidFile}' 2>&1 | cat`,
      ],
      { stdio: 'ignore', detached: true },
    );
    try {
      const pid = await eventuallyRead(pidFile);
      const hook = outputHook(4321);
      expect(await sh(hook.args.slice(1), `{"pid": ${pid},"status":"creating"}`)).toBe(0);
      for (const fd of [1, 2]) {
        const pipe = await stat(`/proc/${pid}/fd/${fd}`);
        expect(pipe.isFIFO()).toBe(true);
        expect({ uid: pipe.uid, gid: pipe.gid, mode: pipe.mode & 0o777 }).toEqual({
          uid: 0,
          gid: 4321,
          mode: 0o620,
        });
      }
    } finally {
      process.kill(-child.pid!, 'SIGKILL');
    }
  });

  it('refuses to start a container whose output is a file, not a pipe', async () => {
    const output = await open(join(dir, 'stdout'), 'a', 0o600);
    const child = spawn('sleep', ['30'], { stdio: ['ignore', output.fd, output.fd] });
    try {
      const hook = outputHook(4321);
      expect(await sh(hook.args.slice(1), `{"pid":${child.pid}}`)).toBe(1);
      expect((await stat(join(dir, 'stdout'))).mode & 0o777).toBe(0o600);
    } finally {
      child.kill('SIGKILL');
      await output.close();
    }
  });

  it('starts slirp4netns for the pid in the state, records its pid, and waits until ready', async () => {
    // A stand-in: says it is ready on the fd it is given, then stays, as slirp4netns does.
    const slirp = await fakeProgram(
      'slirp4netns',
      'for a; do case $a in --ready-fd=*) fd=${a#--ready-fd=};; esac; done\n' +
        'echo "$@" > "$(dirname "$0")/args"; printf 1 >&$fd; exec sleep 30',
    );
    const nsenter = await fakeProgram(
      'nsenter',
      'echo "$@" >> "$(dirname "$0")/fences"; cat >> "$(dirname "$0")/fences"',
    );
    const pidFile = join(dir, 'net.pid');
    const hook = networkHook({ slirp4netns: slirp, pidFile, logFile: join(dir, 'log'), nsenter });
    expect(await sh(hook.args.slice(1), '{"ociVersion":"1.0.2","id":"c1","pid": 4242}')).toBe(0);
    const args = await readFile(join(dir, 'args'), 'utf8');
    expect(args).toContain('--disable-host-loopback');
    expect(args.trim().endsWith('4242 tap0')).toBe(true);
    // The host's loopback, which slirp4netns would connect to, is fenced off the tap device.
    expect((await readFile(join(dir, 'fences'), 'utf8')).trim().split('\n')).toEqual([
      '--net=/proc/4242/ns/net ip -batch -',
      'rule add pref 1 oif tap0 to 127.0.0.0/8 prohibit',
      'rule add pref 1 oif tap0 to 0.0.0.0/8 prohibit',
    ]);
    const pid = Number(await readFile(pidFile, 'utf8'));
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, 'SIGTERM');
  });

  it('fails the start when slirp4netns ends without being ready', async () => {
    const slirp = await fakeProgram('slirp4netns', 'exit 1');
    const hook = networkHook({
      slirp4netns: slirp,
      pidFile: join(dir, 'net.pid'),
      logFile: join(dir, 'log'),
    });
    expect(await sh(hook.args.slice(1), '{"pid":4242}')).not.toBe(0);
    expect(await sh(hook.args.slice(1), '{"status":"creating"}')).not.toBe(0);
  });

  it('reads the pid from a state over several lines, and fails the start when a fence fails', async () => {
    const slirp = await fakeProgram(
      'slirp4netns',
      'for a; do case $a in --ready-fd=*) fd=${a#--ready-fd=};; esac; done\n' +
        'echo "$@" > "$(dirname "$0")/args"; printf 1 >&$fd; exec sleep 30',
    );
    const nsenter = await fakeProgram('nsenter', 'cat > /dev/null; exit 2');
    const pidFile = join(dir, 'net.pid');
    const hook = networkHook({ slirp4netns: slirp, pidFile, logFile: join(dir, 'log'), nsenter });

    expect(await sh(hook.args.slice(1), '{\n  "id": "c1",\n  "pid":\n 31337\n}\n')).not.toBe(0);
    expect((await readFile(join(dir, 'args'), 'utf8')).trim().endsWith('31337 tap0')).toBe(true);
    process.kill(Number(await readFile(pidFile, 'utf8')), 'SIGTERM');
  });

  describe('a gated container', () => {
    /** A runc that runs the gate hook as runc would (state on its stdin), and exits as it did. */
    async function gatedRunc(): Promise<string> {
      const hook = gateHook(join(dir, 'gate'));
      expect(hook.args.slice(0, 3)).toEqual(['sh', '-c', GATE_HOOK]);
      return fakeProgram(
        'runc',
        'if [ "$3" = delete ]; then echo "$@" > "$(dirname "$0")/deleted"; exit 0; fi\n' +
          `echo '{"pid":4242}' | sh -c '${GATE_HOOK}' kiln-gate "${join(dir, 'gate')}" || exit 1\n` +
          'echo ran > "$(dirname "$0")/ran"',
      );
    }

    function shim(runc: string): string[] {
      return shimFor(runc, join(dir, 'gate'));
    }

    it("starts the container's process on the agent's go", async () => {
      const runc = await gatedRunc();
      expect(await sh(shim(runc), 'go\n')).toBe(0);
      expect(await readFile(join(dir, 'ran'), 'utf8')).toBe('ran\n');
      // Kept for the agent, which reads its counters and removes it.
      expect(existsSync(join(dir, 'deleted'))).toBe(false);
    });

    it('never starts it when the agent ends its input without go (it gave up, or died)', async () => {
      const runc = await gatedRunc();
      expect(await sh(shim(runc), '')).toBe(1);
      await expect(readFile(join(dir, 'ran'), 'utf8')).rejects.toThrow(/ENOENT/);
      expect(await readFile(join(dir, '.exit_code'), 'utf8')).toBe('1\n');
      // runc keeps what ran nothing: the shim deletes it.
      expect(await readFile(join(dir, 'deleted'), 'utf8')).toBe(
        `--root ${dir} delete --force c1\n`,
      );
    });

    it('ends in the sandbox it was renamed to while it waited for the word', async () => {
      // Paths in the sandbox relative to it, as the containerizer gives them.
      const sandbox = join(dir, 'warm');
      const renamed = join(dir, 'task');
      await mkdir(sandbox);
      const runc = await fakeProgram(
        'runc',
        `echo waiting > waiting; echo '{"pid":4242}' | sh -c '${GATE_HOOK}' kiln-gate "${join(sandbox, 'gate')}" || exit 1\n` +
          'echo ran > ran',
      );
      const args = shimArguments({ ...PLAIN, runc, gate: 'gate' });
      const child = spawn('/bin/sh', args, { cwd: sandbox, stdio: ['pipe', 'ignore', 'ignore'] });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      await vi.waitFor(() => expect(existsSync(join(sandbox, 'waiting'))).toBe(true));
      await rename(sandbox, renamed);
      child.stdin.end(GATE_OPEN);
      expect(await exited).toBe(0);
      expect(await readFile(join(renamed, 'ran'), 'utf8')).toBe('ran\n');
      expect(await readFile(join(renamed, '.exit_code'), 'utf8')).toBe('0\n');
      expect(await readFile(join(renamed, 'gate.word'), 'utf8')).toBe('go\n');
    });

    it('records the code of a runc that fails before its gate', async () => {
      const runc = await fakeProgram('runc', 'exit 3');
      expect(await sh(shim(runc), 'go\n')).toBe(3);
      expect(await readFile(join(dir, '.exit_code'), 'utf8')).toBe('3\n');
    });

    it('tells no to a hook whose shim died before it opened the gate, which then ends', async () => {
      // The FIFO as the shim makes it, with nobody holding it: the shim was killed.
      const gate = join(dir, 'gate');
      execFileSync('mkfifo', ['-m', '600', gate]);
      const hook = sh(['-c', GATE_HOOK, 'kiln-gate', gate], '{"pid":4242}');

      const refusal = await refuseAtGate(gate);
      try {
        // Without the refusal, the hook waits in open(2) for a writer that never comes.
        expect(await hook).toBe(1);
      } finally {
        await refusal?.close();
      }
      await expect(refuseAtGate(join(dir, 'no-such-gate'))).resolves.toBeUndefined();
    });
  });
});
