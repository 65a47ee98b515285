import type { ReactNode } from 'react';
import type { Job } from './api';
import { duration } from './format';
import { Link } from './router';

const NODE_WIDTH = 168;
const NODE_HEIGHT = 48;
const COLUMN_GAP = 56;
const ROW_GAP = 14;

interface Placed {
  job: Job;
  x: number;
  y: number;
}

/**
 * A run's jobs as a DAG, left to right: a job's column is the length of the longest chain of
 * `needs` before it. Edges are plain SVG; the nodes are links to the jobs' logs.
 */
export function JobGraph(props: { runId: string; jobs: Job[] }): ReactNode {
  const { placed, edges, width, height } = layout(props.jobs);
  return (
    <div className="job-graph" style={{ width, height }}>
      <svg width={width} height={height} aria-hidden="true">
        {edges.map(({ from, to }) => {
          const x1 = from.x + NODE_WIDTH;
          const y1 = from.y + NODE_HEIGHT / 2;
          const x2 = to.x;
          const y2 = to.y + NODE_HEIGHT / 2;
          const bend = (x2 - x1) / 2;
          return (
            <path
              key={`${from.job.key}->${to.job.key}`}
              data-edge={`${from.job.key}->${to.job.key}`}
              d={`M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`}
            />
          );
        })}
      </svg>
      {placed.map(({ job, x, y }) => (
        <Link
          key={job.id}
          to={`/runs/${props.runId}/jobs/${job.id}`}
          className={`job-node state-${job.state}`}
          style={{ left: x, top: y, width: NODE_WIDTH, height: NODE_HEIGHT }}
          data-node={job.key}
          title={job.statusMessage ?? job.state}
        >
          <span className="job-node-key">{job.key}</span>
          <span className="job-node-meta">
            {job.state}
            {job.startedAt === undefined ? '' : ` · ${duration(job.startedAt, job.finishedAt)}`}
          </span>
        </Link>
      ))}
    </div>
  );
}

function layout(jobs: Job[]): {
  placed: Placed[];
  edges: { from: Placed; to: Placed }[];
  width: number;
  height: number;
} {
  const byKey = new Map(jobs.map((job) => [job.key, job]));
  const needsOf = (job: Job): string[] =>
    (job.plan?.needs ?? []).filter((key) => key !== job.key && byKey.has(key));
  const depths = new Map<string, number>();
  const depthOf = (job: Job, seen: Set<string>): number => {
    const known = depths.get(job.key);
    if (known !== undefined) return known;
    // The compiler rejects cycles; should one slip through, it is cut rather than looped.
    if (seen.has(job.key)) return 0;
    seen.add(job.key);
    let depth = 0;
    for (const key of needsOf(job)) {
      const need = byKey.get(key);
      if (need !== undefined) depth = Math.max(depth, depthOf(need, seen) + 1);
    }
    depths.set(job.key, depth);
    return depth;
  };

  const columns: Job[][] = [];
  for (const job of jobs) {
    const depth = depthOf(job, new Set());
    (columns[depth] ??= []).push(job);
  }
  const placedByKey = new Map<string, Placed>();
  columns.forEach((column, depth) => {
    column.forEach((job, row) => {
      placedByKey.set(job.key, {
        job,
        x: depth * (NODE_WIDTH + COLUMN_GAP),
        y: row * (NODE_HEIGHT + ROW_GAP),
      });
    });
  });
  const edges: { from: Placed; to: Placed }[] = [];
  for (const to of placedByKey.values()) {
    for (const key of needsOf(to.job)) {
      const from = placedByKey.get(key);
      if (from !== undefined) edges.push({ from, to });
    }
  }
  const rows = Math.max(1, ...columns.map((column) => column.length));
  return {
    placed: [...placedByKey.values()],
    edges,
    width: columns.length * (NODE_WIDTH + COLUMN_GAP) - COLUMN_GAP,
    height: rows * (NODE_HEIGHT + ROW_GAP) - ROW_GAP,
  };
}
