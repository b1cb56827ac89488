// Reading a server-sent event stream in tests, through the CLI's own client (what `ferry train
// --server` follows a job with).
import { FerryClient } from '../../../src/cli/client.js';

export interface SseEvent {
  readonly event: string;
  readonly data: Record<string, unknown>;
}

/** Collects events until the stream ends, or until `until` returns true for one. */
export async function readEvents(url: string, until?: (e: SseEvent) => boolean, apiKey?: string): Promise<SseEvent[]> {
  const { origin, pathname } = new URL(url);
  const events: SseEvent[] = [];
  for await (const e of new FerryClient(origin, apiKey).events(pathname)) {
    const ev = { event: e.event, data: (e.data ?? {}) as Record<string, unknown> };
    events.push(ev);
    if (until?.(ev)) break; // leaving the loop cancels the stream
  }
  return events;
}
