import type { ReactNode } from 'react';
import type { Job } from './api';
import { duration } from './format';
import { layoutJobGraph, NODE_HEIGHT, NODE_WIDTH } from './job-graph-layout';
import { Link } from './router';

/** A run's jobs as a DAG (see layoutJobGraph): edges in plain SVG, nodes linking to the logs. */
export function JobGraph(props: { runId: string; jobs: Job[] }): ReactNode {
  const { placed, edges, width, height } = layoutJobGraph(props.jobs);
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
