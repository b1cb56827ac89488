// For requests fired by every pen stroke or key press: at most one in flight; calls made meanwhile
// collapse into one more run when it ends, which reads the state as it is then. The server sees a
// steady trickle instead of hundreds of requests, and the last answer shown is for the latest input.
import { useRef, useState } from 'preact/hooks';

/**
 *   const [predict, busy] = useLatestOnly(async () => show(await api(path, { body: read() })));
 *   onPointerMove={() => { draw(); predict(); }}
 *   <figure aria-busy={busy}>…</figure>
 *
 * `task` handles its own errors; the newest `task` passed in is the one that runs. `busy` is true
 * from a call until the answer for the latest input is in.
 */
export function useLatestOnly(task: () => Promise<void>): readonly [() => void, boolean] {
  const latest = useRef(task);
  latest.current = task;
  const [busy, setBusy] = useState(false);
  const state = useRef<{ run?: () => void; running: boolean; again: boolean }>({ running: false, again: false });
  const s = state.current;
  s.run ??= () => {
    if (s.running) {
      s.again = true;
      return;
    }
    s.running = true;
    s.again = false;
    setBusy(true);
    latest.current().catch(() => undefined).finally(() => {
      s.running = false;
      if (s.again) s.run!();
      else setBusy(false);
    });
  };
  return [s.run, busy];
}
