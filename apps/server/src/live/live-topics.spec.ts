import { describe, expect, it } from 'vitest';
import { parseTopics, topicsOf } from './live-topics';

const RUN = '3f1c2a8e-0b7d-4c61-9a52-7d1e5b9c0f44';
const REPO = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';

describe('parseTopics', () => {
  it('reads every kind of topic, ids lower-cased', () => {
    expect(
      parseTopics(`run:${RUN.toUpperCase()}, repository:${REPO},queue,cluster,approvals`),
    ).toEqual({
      topics: [
        { kind: 'run', id: RUN },
        { kind: 'repository', id: REPO },
        { kind: 'queue' },
        { kind: 'cluster' },
        { kind: 'approvals' },
      ],
    });
    expect(parseTopics(`environments:${REPO}`)).toEqual({
      topics: [{ kind: 'environments', id: REPO }],
    });
  });

  it('names an unknown topic and lists the known ones', () => {
    expect(parseTopics('queue,builds')).toEqual({
      error:
        'unknown topic "builds"; topics are run:<id>, repository:<id>, environments:<id>, queue, cluster, approvals',
    });
  });

  it('names a topic whose id is not a UUID, or missing', () => {
    expect(parseTopics('run:42')).toEqual({ error: 'topic "run:42": run id must be a UUID' });
    expect(parseTopics('repository')).toEqual({
      error: 'topic "repository": repository id must be a UUID',
    });
  });

  it('refuses no topics and too many', () => {
    expect(parseTopics(' , ')).toEqual({
      error:
        'topics must name at least one of run:<id>, repository:<id>, environments:<id>, queue, cluster, approvals',
    });
    expect(parseTopics(Array(17).fill('queue').join(','))).toEqual({
      error: 'topics names 17 topics; at most 16 are allowed',
    });
  });
});

describe('topicsOf', () => {
  it('tells the run page, the run list, the board and the queue of a run', () => {
    expect(topicsOf({ kind: 'run', id: RUN, repositoryId: REPO, state: 'success' }, REPO)).toEqual([
      `run:${RUN}`,
      `repository:${REPO}`,
      `environments:${REPO}`,
      'queue',
    ]);
  });

  it("tells a job's run page and the queue", () => {
    expect(topicsOf({ kind: 'job', id: 'j', runId: RUN }, REPO)).toEqual([`run:${RUN}`, 'queue']);
  });

  it("tells the board and the approvals inbox of a promotion, and the promoted run's page when known", () => {
    expect(topicsOf({ kind: 'promotion', id: 'p', runId: RUN }, REPO)).toEqual([
      `environments:${REPO}`,
      `run:${RUN}`,
      'approvals',
    ]);
    expect(topicsOf({ kind: 'promotion', id: 'p' }, REPO)).toEqual([
      `environments:${REPO}`,
      'approvals',
    ]);
    expect(topicsOf({ kind: 'environment', id: 'e', repositoryId: REPO }, REPO)).toEqual([
      `environments:${REPO}`,
    ]);
  });
});
