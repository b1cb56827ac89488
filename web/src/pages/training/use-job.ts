// Follows one job: GET its record, then its event stream until the job is done, the server stops,
// or the page goes away (the AbortController closes the stream on unmount).
import { useCallback, useEffect, useState } from 'preact/hooks';
import { api, enc, streamEvents } from '../../lib/api';
import { applyEvent, fromRecord, isFinished, type LiveJob } from './live';
import type { JobEvent, JobRecord } from './types';

export interface FollowedJob {
  readonly live: LiveJob | undefined;
  /** why the job could not be read or followed, with what to do */
  readonly error: string | undefined;
  /** the stream ended before the job did (the server stopped, the network dropped) */
  readonly lost: boolean;
  reconnect(): void;
}

export function useJob(id: string): FollowedJob {
  const [live, setLive] = useState<LiveJob>();
  const [error, setError] = useState<string>();
  const [lost, setLost] = useState(false);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const ctrl = new AbortController();
    const path = `/api/training-jobs/${enc(id)}`;
    setError(undefined);
    setLost(false);
    let last: LiveJob | undefined;
    const update = (next: LiveJob) => {
      last = next;
      setLive(next);
    };
    (async () => {
      update(fromRecord(await api<JobRecord>(path, { signal: ctrl.signal })));
      await streamEvents(`${path}/events`, { signal: ctrl.signal }, (e) => update(applyEvent(last!, JSON.parse(e.data) as JobEvent)));
      if (!ctrl.signal.aborted && last && !isFinished(last)) setLost(true);
    })().catch((err: Error) => {
      if (err.name === 'AbortError' || ctrl.signal.aborted) return;
      if (last) setLost(true);
      else setError(err.message);
    });
    return () => ctrl.abort();
  }, [id, attempt]);

  const reconnect = useCallback(() => setAttempt((a) => a + 1), []);
  return { live, error, lost, reconnect };
}
