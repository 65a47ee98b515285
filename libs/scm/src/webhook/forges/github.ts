import { at, optArray, optId, optString, reqNumber, reqString } from '../json';
import { changedFiles, headCommit, splitRef, wantsSkipCi, ZERO_SHA } from '../push';
import type { PullRequestAction, RepoRef, TriggerEvent } from '../types';
import { type DeliveryContext, ignored } from './context';

// Gitea and Forgejo payloads are GitHub-shaped, so they share this normalizer; only their
// PR-sync action name differs.
const PR_ACTIONS: Record<string, PullRequestAction> = {
  opened: 'opened',
  synchronize: 'updated', // GitHub
  synchronized: 'updated', // Gitea / Forgejo
  reopened: 'reopened',
};

function repoRef(repo: unknown, path: string): RepoRef {
  return {
    fullName: reqString(repo, `${path}.full_name`),
    cloneUrl: reqString(repo, `${path}.clone_url`),
    id: optId(repo, `${path}.id`),
  };
}

export function normalizeGithubLike(delivery: DeliveryContext): TriggerEvent {
  const { forge, deliveryId, event, body } = delivery;
  switch (event) {
    case 'ping':
      return {
        kind: 'ping',
        forge,
        deliveryId,
        // Organization hooks ping without a repository.
        repository: at(body, 'repository') ? repoRef(body, 'repository') : undefined,
      };
    case 'push':
      return push(delivery);
    case 'pull_request':
      return pullRequest(delivery);
    default:
      return ignored(delivery, `unsupported event ${event}`);
  }
}

function push(delivery: DeliveryContext): TriggerEvent {
  const { forge, deliveryId, body } = delivery;
  const ref = reqString(body, 'ref');
  const after = reqString(body, 'after');
  if (at(body, 'deleted') === true || ZERO_SHA.test(after)) {
    return ignored(delivery, `${ref} was deleted`);
  }
  const commits = optArray(body, 'commits');
  // A tag pushed onto an existing commit carries no commits but still a head_commit.
  const head = at(body, 'head_commit') ?? headCommit(commits, after);
  const commitMessage = optString(head, 'message');
  return {
    kind: 'push',
    forge,
    deliveryId,
    repository: repoRef(body, 'repository'),
    ref,
    ...splitRef(ref),
    before: reqString(body, 'before'),
    after,
    commitMessage,
    // The commit's author, as the run page says; the pusher only when the commit names none.
    author:
      optString(head, 'author.username') ??
      optString(head, 'author.name') ??
      optString(body, 'pusher.name') ??
      optString(body, 'pusher.login') ?? // Gitea
      optString(body, 'sender.login'),
    changedFiles: changedFiles(commits),
    skipCi: wantsSkipCi(commitMessage),
  };
}

function pullRequest(delivery: DeliveryContext): TriggerEvent {
  const { forge, deliveryId, body } = delivery;
  const rawAction = reqString(body, 'action');
  const action = PR_ACTIONS[rawAction];
  if (action === undefined) return ignored(delivery, `pull request action ${rawAction}`);
  const pr = at(body, 'pull_request');
  const baseRepoId = optId(pr, 'base.repo.id');
  const headRepoId = optId(pr, 'head.repo.id');
  return {
    kind: 'pull_request',
    forge,
    deliveryId,
    repository: repoRef(body, 'repository'),
    action,
    number: reqNumber(pr, 'number'),
    title: reqString(pr, 'title'),
    headSha: reqString(pr, 'head.sha'),
    headBranch: reqString(pr, 'head.ref'),
    baseBranch: reqString(pr, 'base.ref'),
    // A null head repo means the fork was deleted: still foreign code, so still a fork.
    fromFork: headRepoId === undefined || headRepoId !== baseRepoId,
    author: optString(pr, 'user.login'),
  };
}
