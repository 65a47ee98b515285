import { randomUUID } from 'node:crypto';
import {
  chmod,
  copyFile,
  lstat,
  mkdir,
  readlink,
  realpath,
  rename,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CONTAINER_WORKSPACE } from './bundle';
import { PRIVATE_SHELL } from './private-shell';

/*
 * The filesystem every task of the native containerizer starts from when it names no image: the
 * host's toolchains, read-only, under a root of mount points, a generated `/etc` and the shell
 * that runs a task's shell command. Made once per
 * containerizer in its runtime directory, shared by its containers (all of them read-only), and
 * safe to make again over itself while containers use it: it is only ever added to.
 */

/** The host's system directories the task sees, read-only, where they are directories. */
const SYSTEM_DIRS = ['usr', 'bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32'] as const;

/**
 * What of the host's `/etc` the task sees, read-only, beside the generated files: the CA
 * certificates (TLS to package registries), Debian's alternatives (`cc`, `c++`, `awk`…), the
 * dynamic linker's cache and OpenSSL's configuration. Never `shadow`, never the host's secrets.
 */
const HOST_ETC_ENTRIES = [
  'alternatives',
  'ssl/certs',
  'ssl/openssl.cnf',
  'ca-certificates.conf',
  'ld.so.cache',
  'ld.so.conf',
  'ld.so.conf.d',
] as const;

/** `/etc` entries that are links on Debian, copied as links (their targets are under `/usr`). */
const HOST_ETC_LINKS = ['os-release', 'localtime', 'mtab'] as const;

/** The mount points the bundle mounts on: they must exist in the read-only root. */
const MOUNT_POINTS = ['proc', 'dev', 'sys', 'etc', 'tmp', 'root', CONTAINER_WORKSPACE.slice(1)];

export interface RootFilesystem {
  /** The root directory: mount points and links only. */
  rootfs: string;
  /** The generated `/etc`. */
  etc: string;
  /** Host directories to bind read-only at their own path. */
  systemDirs: string[];
  /** Host paths under `/etc` to bind read-only at their own path, over the generated `/etc`. */
  systemFiles: string[];
}

/** The generated `/etc` files: root is the only user, and names resolve through slirp4netns. */
export function etcFiles(hostname: string): Record<string, string> {
  return {
    passwd:
      'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n',
    group: 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n',
    hosts: `127.0.0.1\tlocalhost ${hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n`,
    hostname: `${hostname}\n`,
    // slirp4netns's DNS forwarder.
    'resolv.conf': 'nameserver 10.0.2.3\n',
    'nsswitch.conf': 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n',
  };
}

/** Makes (or completes) the root filesystem under `dir` and says what to mount on it. */
export async function prepareRootFilesystem(
  dir: string,
  hostname: string,
): Promise<RootFilesystem> {
  const rootfs = join(dir, 'rootfs');
  const etc = join(dir, 'etc');
  await mkdir(rootfs, { recursive: true, mode: 0o755 });
  await mkdir(etc, { recursive: true, mode: 0o755 });

  const systemDirs: string[] = [];
  for (const name of SYSTEM_DIRS) {
    const host = `/${name}`;
    const found = await lstat(host).catch(() => undefined);
    if (found === undefined) continue;
    if (found.isSymbolicLink()) {
      // Merged /usr: /bin → usr/bin is a link there too, resolved inside the container.
      await ensureLink(await readlink(host), join(rootfs, name));
    } else if (found.isDirectory()) {
      await mkdir(join(rootfs, name), { recursive: true });
      systemDirs.push(host);
    }
  }
  for (const name of MOUNT_POINTS) await mkdir(join(rootfs, name), { recursive: true });

  for (const [name, text] of Object.entries(etcFiles(hostname))) {
    await writeAtomically(join(etc, name), text);
  }
  const systemFiles: string[] = [];
  for (const name of HOST_ETC_ENTRIES) {
    const host = join('/etc', name);
    const found = await stat(host).catch(() => undefined);
    if (found === undefined) continue;
    const mountPoint = join(etc, name);
    if (found.isDirectory()) {
      await mkdir(mountPoint, { recursive: true });
    } else {
      await mkdir(join(mountPoint, '..'), { recursive: true });
      if ((await lstat(mountPoint).catch(() => undefined)) === undefined) {
        await writeFile(mountPoint, '');
      }
    }
    systemFiles.push(host);
  }
  for (const name of HOST_ETC_LINKS) {
    const target = await readlink(join('/etc', name)).catch(() => undefined);
    if (target !== undefined) await ensureLink(target, join(etc, name));
  }
  await installPrivateShell(join(rootfs, PRIVATE_SHELL));
  return { rootfs, etc, systemDirs, systemFiles };
}

/**
 * Copies the host's `/bin/sh` to `path`, executable and unreadable to all but the host's root
 * (see {@link PRIVATE_SHELL}). Copied anew each time: the host's may have been upgraded.
 */
async function installPrivateShell(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  const temporary = temporaryBeside(path);
  await copyFile(await realpath('/bin/sh'), temporary);
  await chmod(temporary, 0o111);
  await rename(temporary, path);
}

async function ensureLink(target: string, path: string): Promise<void> {
  const existing = await readlink(path).catch(() => undefined);
  if (existing === target) return;
  const temporary = temporaryBeside(path);
  await symlink(target, temporary);
  await rename(temporary, path);
}

/** Running containers see the file: it is replaced whole, never seen half-written. */
async function writeAtomically(path: string, text: string): Promise<void> {
  const temporary = temporaryBeside(path);
  await writeFile(temporary, text, { mode: 0o644 });
  await rename(temporary, path);
}

/**
 * A name beside `path` for a file made before it is renamed over it: of this call alone, as two
 * containerizers of one process (an agent's tests) may make the same root at once.
 */
function temporaryBeside(path: string): string {
  return `${path}.${randomUUID()}.tmp`;
}
