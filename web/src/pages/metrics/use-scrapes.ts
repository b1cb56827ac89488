// Polls GET /metrics — one request per poll, whatever the number of models — and keeps the window's
// history. A poll still in flight when the next is due is not doubled; a hidden tab does not poll.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, request } from '../../lib/api';
import { useInterval } from '../../lib/use-api';
import { addScrape, EMPTY_HISTORY, toScrape, type History } from './series';

export interface Scrapes {
  readonly history: History;
  /** the last poll's failure; cleared by the next that succeeds */
  readonly error?: string;
  /** the key may not read metrics (403) */
  readonly forbidden: boolean;
  /** scrape now, without waiting for the next poll */
  refresh(): void;
}

/** How often to poll: 2 s, or `?poll=<ms>` in the page's address (100 ms to 60 s) — tests poll fast
 *  instead of waiting, and an operator can slow it down. */
export function pollMs(search = location.search): number {
  const asked = Number(new URLSearchParams(search).get('poll'));
  return Number.isFinite(asked) && asked > 0 ? Math.min(60_000, Math.max(100, asked)) : 2000;
}

export function useScrapes(ms: number): Scrapes {
  const [state, setState] = useState<{ history: History; error?: string; forbidden: boolean }>({ history: EMPTY_HISTORY, forbidden: false });
  const busy = useRef(false);
  const live = useRef(true);
  useEffect(() => () => { live.current = false; }, []);

  const scrape = useCallback(async () => {
    if (busy.current) return;
    busy.current = true;
    try {
      const text = await (await request('/metrics')).text();
      const s = toScrape(text, Date.now());
      if (live.current) setState((st) => ({ history: addScrape(st.history, s), forbidden: false }));
    } catch (err) {
      const forbidden = err instanceof ApiError && err.status === 403;
      if (live.current) setState((st) => ({ ...st, error: (err as Error).message, forbidden }));
    } finally {
      busy.current = false;
    }
  }, []);
  useInterval(() => void scrape(), ms);
  return { ...state, refresh: () => void scrape() };
}
