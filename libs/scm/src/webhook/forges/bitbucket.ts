import { at, isObject, optArray, optId, optString, reqNumber, reqString } from '../json';
import { wantsSkipCi } from '../push';
import type { PullRequestAction, RepoRef, TriggerEvent } from '../types';
import { WebhookError } from '../webhook-error';
import { type DeliveryContext, ignored } from './context';

const PR_EVENTS: Record<string, PullRequestAction> = {
  'pullrequest:created': 'opened',
  'pullrequest:updated': 'updated',
};

// Bitbucket has no "before" for a created ref; use git's zero sha like the other forges do.
const NO_COMMIT = '0'.repeat(40);

function repoRef(repo: unknown): RepoRef {
  const fullName = reqString(repo, 'full_name');
  // Payloads carry only the web URL; the HTTPS clone URL is that plus `.git`.
  const html = optString(repo, 'links.html.href') ?? `https://bitbucket.org/${fullName}`;
  return { fullName, cloneUrl: `${html.replace(/\/+$/, '')}.git`, id: optId(repo, 'uuid') };
}

export function normalizeBitbucket(delivery: DeliveryContext): TriggerEvent {
  const { event } = delivery;
  if (event === 'repo:push') return push(delivery);
  if (event === 'diagnostics:ping') {
    const repo = at(delivery.body, 'repository');
    return {
      kind: 'ping',
      forge: delivery.forge,
      deliveryId: delivery.deliveryId,
      repository: repo ? repoRef(repo) : undefined,
    };
  }
  const action = PR_EVENTS[event];
  if (action !== undefined) return pullRequest(delivery, action);
  return ignored(delivery, `unsupported event ${event}`);
}

/**
 * One delivery can carry several ref changes (`git push --all`); TriggerEvent holds one, so the
 * first change that is not a deletion is used.
 */
function push(delivery: DeliveryContext): TriggerEvent {
  const { forge, deliveryId, body } = delivery;
  const changes = optArray(body, 'push.changes');
  if (changes.length === 0) throw new WebhookError(422, 'payload has no push.changes');
  const change = changes.find((c) => isObject(at(c, 'new')));
  if (change === undefined) {
    const name = optString(changes[0], 'old.name') ?? 'ref';
    return ignored(delivery, `${name} was deleted`);
  }
  const type = reqString(change, 'new.type');
  const name = reqString(change, 'new.name');
  const isTag = type === 'tag' || type === 'annotated_tag';
  const commitMessage = optString(change, 'new.target.message');
  return {
    kind: 'push',
    forge,
    deliveryId,
    repository: repoRef(at(body, 'repository')),
    ref: isTag ? `refs/tags/${name}` : `refs/heads/${name}`,
    ...(isTag ? { tag: name } : { branch: name }),
    before: optString(change, 'old.target.hash') ?? NO_COMMIT,
    after: reqString(change, 'new.target.hash'),
    commitMessage,
    // The commit's author (its Bitbucket user, or the name in `Name <email>`), then the pusher.
    author:
      optString(change, 'new.target.author.user.nickname') ??
      optString(change, 'new.target.author.user.display_name') ??
      optString(change, 'new.target.author.raw')?.replace(/\s*<[^>]*>\s*$/, '') ??
      optString(body, 'actor.nickname') ??
      optString(body, 'actor.display_name'),
    // Bitbucket push payloads list commits without their files.
    changedFiles: [],
    skipCi: wantsSkipCi(commitMessage),
  };
}

function pullRequest(delivery: DeliveryContext, action: PullRequestAction): TriggerEvent {
  const { forge, deliveryId, body } = delivery;
  const pr = at(body, 'pullrequest');
  const source =
    optId(pr, 'source.repository.uuid') ?? optString(pr, 'source.repository.full_name');
  const destination =
    optId(pr, 'destination.repository.uuid') ?? optString(pr, 'destination.repository.full_name');
  return {
    kind: 'pull_request',
    forge,
    deliveryId,
    repository: repoRef(at(body, 'repository') ?? at(pr, 'destination.repository')),
    action,
    number: reqNumber(pr, 'id'),
    title: reqString(pr, 'title'),
    headSha: reqString(pr, 'source.commit.hash'),
    headBranch: reqString(pr, 'source.branch.name'),
    baseBranch: reqString(pr, 'destination.branch.name'),
    fromFork: source === undefined || source !== destination,
    author: optString(pr, 'author.nickname') ?? optString(pr, 'author.display_name'),
  };
}
