import { gitEnv } from '@kiln/common';
import { spawn, type ChildProcess } from 'node:child_process';
import type { ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { clientGone, untilDrained } from './response-stream';

/** The media type git's own protocols give a pack. */
export const PACK_MEDIA_TYPE = 'application/x-git-packfile';

/**
 * Streams a pack of `sha` alone from the bare repository `repositoryDir`: the commit and every
 * object of its tree, none of its history. That is what `git fetch --depth 1` of the commit
 * transfers, without the protocol around it: an agent downloads it with one plain GET and indexes
 * it with `git index-pack`, which checks every object's id, so neither side starts a git program
 * per round trip (see the agent's `SourceCache`).
 *
 * `git rev-list --objects --no-walk` lists the objects, `git pack-objects` packs them: git's own
 * pack writer, deltas included. A listing that fails part-way would leave a valid pack of fewer
 * objects, so the answer is then cut off rather than ended: the agent sees a failed download,
 * never a pack that lacks files.
 */
export async function serveCommitPack(
  repositoryDir: string,
  sha: string,
  response: ServerResponse,
): Promise<void> {
  const env = { ...gitEnv(), GIT_DIR: repositoryDir };
  const list = spawn('git', ['rev-list', '--objects', '--no-walk', sha], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pack = spawn('git', ['pack-objects', '--stdout', '-q'], {
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const stderr = { list: '', pack: '' };
  list.stderr.setEncoding('utf8').on('data', (text: string) => (stderr.list += text));
  pack.stderr.setEncoding('utf8').on('data', (text: string) => (stderr.pack += text));
  // Never an unhandled EPIPE: a pack-objects that ended (killed, or failed) stops the listing.
  void pipeline(list.stdout, pack.stdin).catch(() => list.kill('SIGTERM'));
  // An agent that goes away, even before this ran, stops both.
  const gone = clientGone(response);
  void gone.then(() => {
    list.kill('SIGTERM');
    pack.kill('SIGTERM');
  });
  const exitOf = (child: ChildProcess) =>
    new Promise<number | null>((resolve) => {
      child.once('error', () => resolve(-1));
      child.once('close', resolve);
    });
  const [listed, packed] = [exitOf(list), exitOf(pack)];

  let started = false;
  for await (const chunk of pack.stdout as AsyncIterable<Buffer>) {
    if (!started) {
      // pack-objects writes once it has read the whole listing, so the listing has ended: a
      // commit that could not be listed gets its status rather than an empty pack.
      if ((await listed) !== 0) break;
      response.statusCode = 200;
      response.setHeader('content-type', PACK_MEDIA_TYPE);
      response.setHeader('cache-control', 'no-store');
      started = true;
    }
    if (response.destroyed) break;
    if (!response.write(chunk)) await untilDrained(response, gone);
  }
  const [listCode, packCode] = await Promise.all([listed, packed]);
  if (listCode === 0 && packCode === 0) {
    response.end();
  } else if (response.destroyed) {
    return;
  } else if (!started && !response.headersSent) {
    pack.stdout.resume();
    response.statusCode = 500;
    response.setHeader('content-type', 'text/plain; charset=utf-8');
    const why = (listCode === 0 ? stderr.pack : stderr.list).trim() || 'no output';
    response.end(`cannot pack ${sha}: ${why}\n`);
  } else {
    response.destroy(new Error(`packing ${sha} failed part-way`));
  }
}
