import type { RecordChange } from '@kiln/persistence';
import { isUuid } from '../auth/resource-resolver';

/**
 * What a live page watches. One stream per page names its topics in the query
 * (`GET /api/v1/events?topics=run:<id>,queue`):
 * - `run:<id>`: the run and its jobs and promotions (the run page);
 * - `repository:<id>`: the repository's runs (its run list);
 * - `environments:<id>`: the repository's environments board (runs, promotions, environments);
 * - `queue`: jobs that wait, of the repositories the caller may see;
 * - `cluster`: the cluster's agents and their use;
 * - `approvals`: promotions that may wait for someone's decision (the approvals inbox). Like
 *   `queue`, it says only that something changed; what the caller may see is the load's to say.
 */
export type Topic =
  { kind: 'run' | 'repository' | 'environments'; id: string } | { kind: GlobalTopic };

const GLOBAL_TOPICS = ['queue', 'cluster', 'approvals'] as const;
type GlobalTopic = (typeof GLOBAL_TOPICS)[number];

export const TOPIC_FORMS =
  'run:<id>, repository:<id>, environments:<id>, queue, cluster, approvals';
/** A page watches one or two topics; a long list is a mistake, not a need. */
export const MAX_TOPICS = 16;

export type TopicsParse = { topics: Topic[] } | { error: string };

/** The topics of a `topics` query parameter (comma-separated), or what is wrong with it. */
export function parseTopics(raw: string): TopicsParse {
  const names = raw
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  if (names.length === 0) return { error: `topics must name at least one of ${TOPIC_FORMS}` };
  if (names.length > MAX_TOPICS) {
    return { error: `topics names ${names.length} topics; at most ${MAX_TOPICS} are allowed` };
  }
  const topics: Topic[] = [];
  for (const name of names) {
    if (isGlobalTopic(name)) {
      topics.push({ kind: name });
      continue;
    }
    const colon = name.indexOf(':');
    const kind = colon < 0 ? name : name.slice(0, colon);
    if (kind !== 'run' && kind !== 'repository' && kind !== 'environments') {
      return { error: `unknown topic ${JSON.stringify(name)}; topics are ${TOPIC_FORMS}` };
    }
    const id = colon < 0 ? '' : name.slice(colon + 1);
    if (!isUuid(id)) {
      return { error: `topic ${JSON.stringify(name)}: ${kind} id must be a UUID` };
    }
    topics.push({ kind, id: id.toLowerCase() });
  }
  return { topics };
}

function isGlobalTopic(name: string): name is GlobalTopic {
  return (GLOBAL_TOPICS as readonly string[]).includes(name);
}

export function topicName(topic: Topic): string {
  return 'id' in topic ? `${topic.kind}:${topic.id}` : topic.kind;
}

/** The topics a change concerns, given the repository it belongs to. */
export function topicsOf(change: RecordChange, repositoryId: string): string[] {
  switch (change.kind) {
    case 'run':
      // A new or ended run changes the list, the board (what may be promoted) and the queue.
      return [
        `run:${change.id}`,
        `repository:${repositoryId}`,
        `environments:${repositoryId}`,
        'queue',
      ];
    case 'job':
      return [`run:${change.runId}`, 'queue'];
    case 'promotion':
      return [
        `environments:${repositoryId}`,
        ...(change.runId === undefined ? [] : [`run:${change.runId}`]),
        'approvals',
      ];
    case 'environment':
      return [`environments:${repositoryId}`];
  }
}
