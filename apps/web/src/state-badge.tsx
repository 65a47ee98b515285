import type { ReactNode } from 'react';
import type { JobState, PromotionState, RunState } from './api';

/** A run's, a job's or a promotion's state, coloured by the stylesheet (`state-<name>`). */
export function StateBadge(props: { state: RunState | JobState | PromotionState }): ReactNode {
  return <span className={`state state-${props.state}`}>{props.state}</span>;
}

export function ErrorNote(props: { error: Error | string | undefined }): ReactNode {
  if (props.error === undefined) return null;
  const message = typeof props.error === 'string' ? props.error : props.error.message;
  return (
    <p className="error" role="alert">
      {message}
    </p>
  );
}
