// Reading a server-sent event stream in tests, as a browser's EventSource would.
export interface SseEvent {
  readonly event: string;
  readonly data: Record<string, unknown>;
}

/** Collects events until the stream ends, or until `until` returns true for one. */
export async function readEvents(url: string, until?: (e: SseEvent) => boolean, signal?: AbortSignal): Promise<SseEvent[]> {
  const res = await fetch(url, { signal });
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  if (!res.headers.get('content-type')?.startsWith('text/event-stream')) throw new Error(`not an event stream: ${res.headers.get('content-type')}`);
  const events: SseEvent[] = [];
  const decoder = new TextDecoder();
  let buf = '';
  const reader = res.body!.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return events;
    buf += decoder.decode(value, { stream: true });
    let cut: number;
    while ((cut = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      if (block.startsWith(':')) continue; // keep-alive comment
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
      const data = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? '{}') as Record<string, unknown>;
      events.push({ event, data });
      if (until?.({ event, data })) {
        await reader.cancel();
        return events;
      }
    }
  }
}
