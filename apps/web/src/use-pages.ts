import { useCallback, useRef, useState } from 'react';
import { useLive } from './use-live';
import { usePoll, type Polled } from './use-poll';

export interface Page<T> {
  items: T[];
  /** Where the next, older page starts; absent on the last page. */
  next?: string;
}

export interface Paged<T> {
  /** The newest page, polled, then the older pages asked for, without repeats. */
  items: T[] | undefined;
  error: Error | undefined;
  /** Whether an older page may exist. */
  hasOlder: boolean;
  loadingOlder: boolean;
  older: () => void;
  refresh: () => void;
}

interface Older<T> {
  key: string;
  items: T[];
  next?: string;
  pages: number;
  busy: boolean;
  error?: Error;
}

/**
 * A newest-first list: its first page is polled like `usePoll`; older pages, once asked for, stay
 * as they were loaded. A new key starts over.
 */
export function usePages<T extends { id: string }>(
  key: string,
  load: (before?: string) => Promise<Page<T>>,
  intervalMs: number,
): Paged<T> {
  return usePagesAfter(
    key,
    load,
    usePoll(key, () => load(), intervalMs),
  );
}

/** As {@link usePages}, its first page live from the server's events on `topics` (`useLive`). */
export function useLivePages<T extends { id: string }>(
  key: string,
  load: (before?: string) => Promise<Page<T>>,
  topics: readonly string[],
): Paged<T> {
  return usePagesAfter(
    key,
    load,
    useLive(key, () => load(), topics),
  );
}

/** The older pages of a list whose first page `first` keeps current. */
function usePagesAfter<T extends { id: string }>(
  key: string,
  load: (before?: string) => Promise<Page<T>>,
  first: Polled<Page<T>>,
): Paged<T> {
  const [state, setState] = useState<Older<T>>({ key, items: [], pages: 0, busy: false });
  const loadRef = useRef(load);
  loadRef.current = load;

  const older: Older<T> = state.key === key ? state : { key, items: [], pages: 0, busy: false };
  const next = older.pages > 0 ? older.next : first.data?.next;

  const loadOlder = useCallback(() => {
    if (next === undefined) return;
    const update = (change: (previous: Older<T>) => Older<T>): void =>
      setState((previous) => (previous.key === key ? change(previous) : previous));
    setState((previous) =>
      previous.key === key
        ? { ...previous, busy: true, error: undefined }
        : { key, items: [], pages: 0, busy: true },
    );
    loadRef.current(next).then(
      (page) =>
        update((previous) => ({
          key,
          items: [...previous.items, ...page.items],
          ...(page.next === undefined ? {} : { next: page.next }),
          pages: previous.pages + 1,
          busy: false,
        })),
      (error: unknown) =>
        update((previous) => ({
          ...previous,
          busy: false,
          error: error instanceof Error ? error : new Error(String(error)),
        })),
    );
  }, [key, next]);

  let items: T[] | undefined;
  if (first.data !== undefined) {
    const seen = new Set<string>();
    items = [...first.data.items, ...older.items].filter((item) => {
      if (seen.has(item.id)) return false;
      seen.add(item.id);
      return true;
    });
  }
  return {
    items,
    error: older.error ?? first.error,
    hasOlder: next !== undefined,
    loadingOlder: older.busy,
    older: loadOlder,
    refresh: first.refresh,
  };
}
