import { useCallback, useEffect, useRef, useState } from 'react';
import type { Polled } from './use-poll';

/** The server's stream of changes to `topics` (see the server's live-topics.ts for the forms). */
export function liveEventsUrl(topics: readonly string[]): string {
  return `/api/v1/events?topics=${encodeURIComponent(topics.join(','))}`;
}

/**
 * Loads `load()` when the page's event stream is ready, and again whenever the server says one
 * of `topics` changed (or that it lost track: `reset`): a live page without polling. One
 * EventSource per page; reconnecting is the browser's own, and it resumes with Last-Event-ID, so
 * a change made while the connection was down still arrives. Loads never overlap: changes that
 * come during one load cause one more. A new key or other topics start over.
 */
export function useLive<T>(
  key: string,
  load: () => Promise<T>,
  topics: readonly string[],
): Polled<T> {
  const [state, setState] = useState<{ key: string; data?: T; error?: Error }>({ key });
  const loadRef = useRef(load);
  loadRef.current = load;
  const reloadRef = useRef<() => void>(() => undefined);
  const topicsKey = topics.join(',');

  useEffect(() => {
    let stopped = false;
    let inFlight = false;
    let again = false;
    let loaded = false;
    const reload = (): void => {
      if (stopped) return;
      if (inFlight) {
        again = true;
        return;
      }
      inFlight = true;
      loadRef
        .current()
        .then(
          (data) => {
            if (!stopped) setState({ key, data });
          },
          (error: unknown) => {
            if (stopped) return;
            setState((previous) => ({
              key,
              ...(previous.key === key && previous.data !== undefined
                ? { data: previous.data }
                : {}),
              error: error instanceof Error ? error : new Error(String(error)),
            }));
          },
        )
        .finally(() => {
          inFlight = false;
          loaded = true;
          if (again) {
            again = false;
            reload();
          }
        });
    };
    reloadRef.current = reload;
    const source = new EventSource(liveEventsUrl(topicsKey.split(',')));
    for (const event of ['ready', 'reset', 'change']) source.addEventListener(event, reload);
    // A refused stream (signed out, not found) ends for good: the load shows why. A stream that
    // cannot connect yet keeps trying; the page loads once meanwhile rather than stay empty.
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED || !loaded) reload();
    };
    return () => {
      stopped = true;
      source.close();
    };
  }, [key, topicsKey]);

  const refresh = useCallback(() => reloadRef.current(), []);
  // Data of a previous key never shows under a new one.
  const current = state.key === key ? state : { key };
  return { data: current.data, error: current.error, refresh };
}
