import { at, optArray, optId, optString, reqNumber, reqString } from '../json';
import { changedFiles, splitRef, wantsSkipCi, ZERO_SHA } from '../push';
import type { PullRequestAction, RepoRef, TriggerEvent } from '../types';
import { type DeliveryContext, ignored } from './context';

const MR_ACTIONS: Record<string, PullRequestAction> = {
  open: 'opened',
  update: 'updated',
  reopen: 'reopened',
};

function repoRef(body: unknown): RepoRef {
  return {
    fullName: reqString(body, 'project.path_with_namespace'),
    cloneUrl: reqString(body, 'project.git_http_url'),
    id: optId(body, 'project.id'),
  };
}

export function normalizeGitlab(delivery: DeliveryContext): TriggerEvent {
  switch (delivery.event) {
    case 'Push Hook':
    case 'Tag Push Hook':
      return push(delivery);
    case 'Merge Request Hook':
      return mergeRequest(delivery);
    default:
      return ignored(delivery, `unsupported event ${delivery.event}`);
  }
}

function push(delivery: DeliveryContext): TriggerEvent {
  const { forge, deliveryId, body } = delivery;
  const ref = reqString(body, 'ref');
  const after = reqString(body, 'after');
  if (ZERO_SHA.test(after)) return ignored(delivery, `${ref} was deleted`);
  const commits = optArray(body, 'commits');
  // GitLab lists at most 20 commits (total_commits_count has the real number), so the head may
  // be missing from the list; the message is then unknown rather than guessed.
  const head = commits.find((c) => optString(c, 'id') === after);
  const commitMessage = optString(head, 'message');
  return {
    kind: 'push',
    forge,
    deliveryId,
    repository: repoRef(body),
    ref,
    ...splitRef(ref),
    before: reqString(body, 'before'),
    after,
    commitMessage,
    // The commit's author, as the run page says; the pusher only when the commit is not listed.
    author:
      optString(head, 'author.name') ??
      optString(body, 'user_username') ??
      optString(body, 'user_name'),
    changedFiles: changedFiles(commits),
    skipCi: wantsSkipCi(commitMessage),
  };
}

function mergeRequest(delivery: DeliveryContext): TriggerEvent {
  const { forge, deliveryId, body } = delivery;
  const mr = at(body, 'object_attributes');
  const rawAction = reqString(mr, 'action');
  const action = MR_ACTIONS[rawAction];
  if (action === undefined) return ignored(delivery, `merge request action ${rawAction}`);
  // "update" also fires for title, label or description edits; only a push of new commits sets
  // oldrev, and only that needs a new run.
  if (action === 'updated' && optString(mr, 'oldrev') === undefined) {
    return ignored(delivery, 'merge request updated without new commits');
  }
  const sourceProject = optId(mr, 'source_project_id');
  const targetProject = optId(mr, 'target_project_id');
  return {
    kind: 'pull_request',
    forge,
    deliveryId,
    repository: repoRef(body),
    action,
    number: reqNumber(mr, 'iid'),
    title: reqString(mr, 'title'),
    headSha: reqString(mr, 'last_commit.id'),
    headBranch: reqString(mr, 'source_branch'),
    baseBranch: reqString(mr, 'target_branch'),
    fromFork: sourceProject === undefined || sourceProject !== targetProject,
    author: optString(body, 'user.username'),
  };
}
