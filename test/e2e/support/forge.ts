import examples from '@octokit/webhooks-examples';
import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

/** A commit status (or any request) the stand-in forge received. */
export interface ForgeRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

/** A loopback HTTP server standing in for a forge's API: records what it is sent, answers 201. */
export class FakeForge {
  readonly requests: ForgeRequest[] = [];
  private readonly server: Server;

  private constructor() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        this.requests.push({
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
        });
        res.writeHead(201, { 'content-type': 'application/json' }).end('{}');
      });
    });
  }

  static async start(): Promise<FakeForge> {
    const forge = new FakeForge();
    await new Promise<void>((resolve) => forge.server.listen(0, '127.0.0.1', resolve));
    return forge;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Requests whose path contains `fragment`, in arrival order. */
  to(fragment: string): ForgeRequest[] {
    return this.requests.filter((r) => r.path.includes(fragment));
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

// ---- Payloads ----------------------------------------------------------------------------------

function githubExample(
  name: string,
  pick: (payload: Record<string, unknown>) => boolean,
): Record<string, unknown> {
  const definition = examples.find((d) => d.name === name);
  const found = (definition?.examples as Record<string, unknown>[] | undefined)?.find(pick);
  if (found === undefined) throw new Error(`no ${name} example matches`);
  return structuredClone(found);
}

const FIXTURES = join(__dirname, '../../../libs/scm/src/webhook/fixtures');
function fixture(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')) as Record<string, unknown>;
}

type Json = Record<string, unknown>;
const obj = (value: unknown): Json => value as Json;

/** GitHub's real push payload (octokit examples), moved to our repository and commit. */
export function githubPush(fullName: string, sha: string, message = 'change'): Json {
  const payload = githubExample(
    'push',
    (p) => p.ref === 'refs/heads/master' && p.deleted === false,
  );
  payload.ref = 'refs/heads/main';
  payload.after = sha;
  obj(payload.repository).full_name = fullName;
  obj(payload.repository).name = fullName.split('/')[1];
  const head = {
    ...obj(payload.head_commit),
    id: sha,
    message,
    added: [],
    modified: ['.kiln.yml'],
    removed: [],
  };
  payload.head_commit = head;
  payload.commits = [head];
  return payload;
}

/** GitHub's real pull request payload, for a head commit from a fork or from the repository. */
export function githubPullRequest(
  fullName: string,
  number: number,
  sha: string,
  fromFork: boolean,
): Json {
  const payload = githubExample('pull_request', (p) => p.action === 'opened');
  payload.number = number;
  const pr = obj(payload.pull_request);
  pr.number = number;
  obj(payload.repository).full_name = fullName;
  const base = obj(pr.base);
  const head = obj(pr.head);
  obj(base.repo).full_name = fullName;
  head.sha = sha;
  head.ref = fromFork ? 'feature-from-fork' : 'feature';
  head.repo = fromFork
    ? { ...obj(base.repo), id: Number(obj(base.repo).id) + 1, full_name: 'mallory/app' }
    : { ...obj(base.repo) };
  return payload;
}

export function gitlabPush(fullName: string, sha: string): Json {
  const payload = fixture('gitlab-push.json');
  payload.after = sha;
  payload.checkout_sha = sha;
  payload.ref = 'refs/heads/main';
  obj(payload.project).path_with_namespace = fullName;
  return payload;
}

export function giteaPush(fullName: string, sha: string): Json {
  const payload = fixture('gitea-push.json');
  payload.after = sha;
  payload.ref = 'refs/heads/main';
  obj(payload.repository).full_name = fullName;
  obj(payload.head_commit).id = sha;
  return payload;
}

// ---- Signing -----------------------------------------------------------------------------------

export type ForgeName = 'github' | 'gitlab' | 'gitea';

/** The headers each forge sends with a delivery, signed with `secret` its own way. */
export function webhookHeaders(
  forge: ForgeName,
  event: string,
  raw: Buffer,
  secret: string,
  deliveryId: string = randomUUID(),
): Record<string, string> {
  const hmac = createHmac('sha256', secret).update(raw).digest('hex');
  const json = { 'content-type': 'application/json' };
  switch (forge) {
    case 'github':
      return {
        ...json,
        'x-github-event': event,
        'x-github-delivery': deliveryId,
        'x-hub-signature-256': `sha256=${hmac}`,
      };
    case 'gitlab':
      return {
        ...json,
        'x-gitlab-event': event,
        'x-gitlab-event-uuid': deliveryId,
        'x-gitlab-token': secret,
      };
    case 'gitea':
      return {
        ...json,
        'x-gitea-event': event,
        'x-gitea-delivery': deliveryId,
        'x-gitea-signature': hmac,
      };
  }
}
