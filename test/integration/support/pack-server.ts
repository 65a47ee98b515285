import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CommitPacks } from '../../../apps/server/src/git/commit-pack';

/** What the pack server answers: the server's own pack of a commit, or a failure. */
export type PackAnswer = { repositoryDir: string; sha: string } | { status: number };

export interface PackServer {
  /** The URL a source's `packUrl` names. */
  url: string;
  /** Requests served so far, authorized or not. */
  requests: number;
  close(): Promise<void>;
}

/**
 * An HTTP server answering every GET with the pack the server's own code streams
 * (`CommitPacks.serve`), to Basic credentials `kiln-task:<token>` only, as the server does.
 */
export async function startPackServer(
  answer: () => PackAnswer,
  token = 'tok',
): Promise<PackServer> {
  const expected = `Basic ${Buffer.from(`kiln-task:${token}`).toString('base64')}`;
  let requests = 0;
  const packs = new CommitPacks();
  const server: Server = createServer((request, response) => {
    requests += 1;
    if (request.headers.authorization !== expected) {
      response.writeHead(401).end('no task token\n');
      return;
    }
    const what = answer();
    if ('status' in what) {
      response.writeHead(what.status).end(`failed with ${what.status}\n`);
      return;
    }
    void packs.serve(what.repositoryDir, what.sha, response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/source.pack`,
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
