// Loading data for a page: the answer, the error to show, and a reload after a change.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api } from './api';

export interface Loaded<T> {
  readonly data: T | undefined;
  readonly error: string | undefined;
  readonly loading: boolean;
  reload(): void;
}

/** GETs `path` (null: nothing yet) and again on reload(); an older answer never overwrites a newer one. */
export function useApi<T>(path: string | null): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: string; loading: boolean }>({ loading: path !== null });
  const [tick, setTick] = useState(0);
  const seq = useRef(0);
  useEffect(() => {
    if (path === null) return;
    const mine = ++seq.current;
    const ctrl = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    api<T>(path, { signal: ctrl.signal }).then(
      (data) => mine === seq.current && setState({ data, loading: false }),
      (err: Error) => mine === seq.current && err.name !== 'AbortError' && setState((s) => ({ data: s.data, error: err.message, loading: false })),
    );
    return () => ctrl.abort();
  }, [path, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

/** Calls fn now and every `ms` while the page is shown and the tab visible (a hidden tab does not
 *  poll: the dashboard should cost the server nothing nobody looks at). */
export function useInterval(fn: () => void, ms: number): void {
  const saved = useRef(fn);
  saved.current = fn;
  useEffect(() => {
    const tick = () => {
      if (document.visibilityState === 'visible') saved.current();
    };
    tick();
    const id = setInterval(tick, ms);
    return () => clearInterval(id);
  }, [ms]);
}
