import { useEffect } from 'react';

/** The document's title while the page shows: what it shows, then "Kiln". */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · Kiln`;
    return () => {
      document.title = 'Kiln';
    };
  }, [title]);
}
