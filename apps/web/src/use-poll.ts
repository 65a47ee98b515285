import { useCallback, useEffect, useRef, useState } from 'react';

export interface Polled<T> {
  data: T | undefined;
  error: Error | undefined;
  /** Loads again now (after a write), then keeps polling (if it polls). */
  refresh: () => void;
}

/**
 * Loads `load()` now and again `intervalMs` after each answer, while the component is mounted
 * and `key` stays the same; a new key starts over. A hidden tab skips its turns. Without
 * `intervalMs` it loads once per key (what does not change, or changes only with the key); a
 * page that follows changes uses `useLive` instead.
 */
export function usePoll<T>(key: string, load: () => Promise<T>, intervalMs?: number): Polled<T> {
  const [state, setState] = useState<{ key: string; data?: T; error?: Error }>({ key });
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const turn = async (): Promise<void> => {
      if (!document.hidden) {
        try {
          const data = await loadRef.current();
          if (!stopped) setState({ key, data });
        } catch (error) {
          if (!stopped) {
            setState((previous) => ({
              key,
              ...(previous.key === key && previous.data !== undefined
                ? { data: previous.data }
                : {}),
              error: error instanceof Error ? error : new Error(String(error)),
            }));
          }
        }
      }
      if (!stopped && intervalMs !== undefined) {
        timer = setTimeout(() => void turn(), intervalMs);
      }
    };
    void turn();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [key, intervalMs, tick]);

  const refresh = useCallback(() => setTick((n) => n + 1), []);
  // Data of a previous key never shows under a new one.
  const current = state.key === key ? state : { key };
  return { data: current.data, error: current.error, refresh };
}
