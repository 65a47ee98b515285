import { spawn } from 'node:child_process';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { clientGone, untilDrained } from './response-stream';

/** What an agent may ask of a mirror: its refs for a fetch, and a pack. Never a push. */
export type UploadPackPath = 'info/refs' | 'git-upload-pack';

/** The end of a CGI header block: headers, a blank line, then the body. */
const HEADER_END = Buffer.from('\r\n\r\n');
/** A CGI program writes a few hundred bytes of headers; more means it is not writing headers. */
const MAX_HEADER_BYTES = 16 * 1024;

/**
 * What one fetch may take of a repository:
 * - a namespace (`GIT_NAMESPACE`) whose refs are all it sees and all it may ask for, over
 *   protocol v0 only: what a task gets, its commit and that commit's history. Protocol v2's
 *   upload-pack serves any object it is asked for by id, advertised or not, reachable or not
 *   (git's design for v2, whatever `uploadpack.allowAnySHA1InWant` says), so a namespace alone
 *   would narrow nothing under it;
 * - the whole repository, any commit by id and either protocol: what a forge serves (GitHub's,
 *   GitLab's), for the tests' forges.
 */
export type UploadPackScope = { namespace: string } | 'whole repository';

/**
 * Serves a fetch from the bare repository `repositoryDir` through `git http-backend`, git's own
 * smart HTTP server, run as a CGI program: it speaks both protocol versions, inflates gzipped
 * requests and streams packs, so none of that is rewritten here. Pushes are refused twice over:
 * only upload-pack paths are routed here, and `http.receivepack` is off.
 */
export async function serveUploadPack(
  repositoryDir: string,
  scope: UploadPackScope,
  path: UploadPackPath,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://mirror');
  const whole = scope === 'whole repository';
  const config: Record<string, string> = {
    'http.receivepack': 'false',
    'http.uploadpack': 'true',
    // Only a want of an advertised tip is served (v0 checks each want against the namespace's
    // refs again on every request, HTTP being stateless).
    'uploadpack.allowAnySHA1InWant': whole ? 'true' : 'false',
    'uploadpack.allowReachableSHA1InWant': 'false',
    'uploadpack.allowTipSHA1InWant': 'false',
  };
  const header = (name: string): string => {
    const value = request.headers[name];
    return Array.isArray(value) ? value.join(', ') : (value ?? '');
  };
  const child = spawn('git', ['http-backend'], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      GIT_PROJECT_ROOT: repositoryDir,
      GIT_HTTP_EXPORT_ALL: '1',
      PATH_INFO: `/${path}`,
      REQUEST_METHOD: request.method ?? 'GET',
      QUERY_STRING: url.search.slice(1),
      CONTENT_TYPE: header('content-type'),
      HTTP_CONTENT_ENCODING: header('content-encoding'),
      // No `Git-Protocol` passed on: v0 (see UploadPackScope).
      ...(whole ? { GIT_PROTOCOL: header('git-protocol') } : { GIT_NAMESPACE: scope.namespace }),
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_COUNT: String(Object.keys(config).length),
      ...Object.fromEntries(
        Object.entries(config).flatMap(([key, value], i) => [
          [`GIT_CONFIG_KEY_${i}`, key],
          [`GIT_CONFIG_VALUE_${i}`, value],
        ]),
      ),
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    if (stderr.length < 4096) stderr += text;
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  // A client that goes away mid-pack (even before this ran) stops the backend too.
  const gone = clientGone(response);
  void gone.then(() => child.kill('SIGTERM'));
  const sent = pipeline(request, child.stdin).catch(() => undefined);

  let head = Buffer.alloc(0);
  let headersWritten = false;
  for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
    if (headersWritten) {
      if (!response.write(chunk)) await untilDrained(response, gone);
      continue;
    }
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf(HEADER_END);
    if (end < 0) {
      if (head.length > MAX_HEADER_BYTES) break;
      continue;
    }
    writeCgiHeaders(response, head.subarray(0, end).toString('latin1'));
    headersWritten = true;
    const body = head.subarray(end + HEADER_END.length);
    if (body.length > 0) response.write(body);
  }
  await sent;
  const code = await exited;
  if (!headersWritten && !response.headersSent) {
    response.statusCode = 500;
    response.setHeader('content-type', 'text/plain; charset=utf-8');
    response.end(`git http-backend failed (exit ${code}): ${stderr.trim() || 'no output'}\n`);
    return;
  }
  response.end();
}

/** A CGI program's headers: `Status: 404 Not Found` sets the status, the others are copied. */
function writeCgiHeaders(response: ServerResponse, block: string): void {
  for (const line of block.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (name.toLowerCase() === 'status') {
      response.statusCode = Number.parseInt(value, 10) || 500;
    } else {
      response.setHeader(name, value);
    }
  }
}
