import type { Job } from './api';

export const NODE_WIDTH = 168;
export const NODE_HEIGHT = 48;
const COLUMN_GAP = 56;
const ROW_GAP = 14;

export interface Placed {
  job: Job;
  x: number;
  y: number;
}

export interface GraphLayout {
  placed: Placed[];
  edges: { from: Placed; to: Placed }[];
  width: number;
  height: number;
}

/**
 * What a job comes after: what it waits for, and in a promote run what the promoted run built
 * for it. A skipped job's plan keeps its needs too, so it is drawn where the file puts it.
 */
function needsOf(job: Job): string[] {
  return [...(job.plan?.needs ?? []), ...(job.plan?.promotedNeeds ?? [])];
}

/**
 * A run's jobs as a DAG, left to right: a job's column is the length of the longest chain of
 * needs before it; rows follow the run's order of jobs within a column.
 */
export function layoutJobGraph(jobs: Job[]): GraphLayout {
  const byKey = new Map(jobs.map((job) => [job.key, job]));
  const needs = (job: Job): string[] =>
    [...new Set(needsOf(job))].filter((key) => key !== job.key && byKey.has(key));
  const depths = new Map<string, number>();
  const depthOf = (job: Job, seen: Set<string>): number => {
    const known = depths.get(job.key);
    if (known !== undefined) return known;
    // The compiler rejects cycles; should one slip through, it is cut rather than looped.
    if (seen.has(job.key)) return 0;
    seen.add(job.key);
    let depth = 0;
    for (const key of needs(job)) {
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
    for (const key of needs(to.job)) {
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
