import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLUSTER_WATCH_MS } from './cluster-watcher';
import { LIVE_RING_CAPACITY } from './live-hub';
import { MAX_TOPICS, TOPIC_FORMS } from './live-topics';

const DOC = readFileSync(resolve(__dirname, '../../../../docs/live-events.md'), 'utf8');

describe('docs/live-events.md', () => {
  it('documents every topic the server accepts, and how many', () => {
    for (const form of TOPIC_FORMS.split(', ')) expect(DOC).toContain(`| \`${form}\``);
    expect(DOC).toContain(`at most ${MAX_TOPICS}`);
  });

  it('states the ring size and how often the cluster is read', () => {
    expect(DOC).toContain(
      `last ${LIVE_RING_CAPACITY.toLocaleString('en-US')} (\`LIVE_RING_CAPACITY\`)`,
    );
    expect(DOC).toContain(`every ${CLUSTER_WATCH_MS / 1000} s`);
  });
});
