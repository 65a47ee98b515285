import type { ReactNode } from 'react';
import { api } from '../api';
import { bytes } from '../format';
import { ErrorNote } from '../state-badge';
import { useLive } from '../use-live';

const MIB = 1024 * 1024;

/** The cluster's agents and how much of each is in use. */
export function ClusterPage(): ReactNode {
  const { data, error } = useLive('agents', api.agents, ['cluster']);
  return (
    <section>
      <h1>Cluster</h1>
      <ErrorNote error={error} />
      {data === undefined ? null : data.length === 0 ? (
        <p className="empty">No agent has registered with the master.</p>
      ) : (
        <table className="agents">
          <thead>
            <tr>
              <th>Agent</th>
              <th>State</th>
              <th>Containerizers</th>
              <th>CPUs used</th>
              <th>Memory used</th>
            </tr>
          </thead>
          <tbody>
            {data.map((agent) => (
              <tr key={agent.id} data-agent={agent.hostname}>
                <td title={agent.id}>{agent.hostname}</td>
                <td>
                  <span className={`agent-state agent-${agent.state.toLowerCase()}`}>
                    {agent.state}
                  </span>
                </td>
                <td>{agent.containerizers.join(', ')}</td>
                <td>
                  <UsageBar
                    used={agent.total.cpus - agent.free.cpus}
                    total={agent.total.cpus}
                    label={(used, total) => `${round(used)} of ${round(total)}`}
                  />
                </td>
                <td>
                  <UsageBar
                    used={agent.total.mem - agent.free.mem}
                    total={agent.total.mem}
                    label={(used, total) => `${bytes(used * MIB)} of ${bytes(total * MIB)}`}
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function UsageBar(props: {
  used: number;
  total: number;
  label: (used: number, total: number) => string;
}): ReactNode {
  const used = Math.max(0, props.used);
  const share = props.total > 0 ? Math.min(1, used / props.total) : 0;
  const text = props.label(used, props.total);
  return (
    <div className="usage">
      <div
        className="usage-bar"
        role="meter"
        aria-valuemin={0}
        aria-valuemax={props.total}
        aria-valuenow={used}
        aria-label={text}
      >
        <div style={{ width: `${(share * 100).toFixed(1)}%` }} />
      </div>
      <span className="usage-text">{text}</span>
    </div>
  );
}

function round(value: number): string {
  return String(Math.round(value * 100) / 100);
}
