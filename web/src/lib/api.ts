// Every call the dashboard makes to Ferry goes through here: the session's key as a bearer token,
// and Ferry's error envelopes ({"error": "..."} or {"error": {"code", "message"}}) turned into an
// ApiError whose message is the server's own explanation, shown to the user as is.
import { session } from './session';

export class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly code?: string) {
    super(message);
  }
}

/** Fired when the server says the key is missing or no longer valid: the app shows the login form. */
export const UNAUTHORIZED_EVENT = 'ferry:unauthorized';

export function authHeaders(extra: Record<string, string> = {}): Record<string, string> {
  const key = session.key();
  return key ? { ...extra, authorization: `Bearer ${key}` } : extra;
}

/** The ApiError for a non-2xx answer whose body is `text`: the message in Ferry's error envelopes,
 *  {"error": "..."} or {"error": {"code", "message"}}, else the text itself (or `fallback` when empty).
 *  Shared with lib/upload.ts, whose XMLHttpRequest has no Response. */
export function errorFromBody(status: number, text: string, fallback: string): ApiError {
  let message = text || fallback;
  let code: string | undefined;
  try {
    const e = (JSON.parse(text) as { error?: unknown }).error;
    if (typeof e === 'string') message = e;
    else if (e && typeof e === 'object') {
      const o = e as { message?: unknown; code?: unknown };
      if (typeof o.message === 'string') message = o.message;
      if (typeof o.code === 'string') code = o.code;
    }
  } catch {
    // not JSON: the text itself is the message
  }
  if (status === 401) window.dispatchEvent(new Event(UNAUTHORIZED_EVENT));
  return new ApiError(status, `${message} (HTTP ${status})`, code);
}

async function errorOf(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => '');
  return errorFromBody(res.status, text, res.statusText || `the server answered ${res.status}`);
}

/** A fetch against Ferry with the session's key; throws ApiError on any non-2xx answer. */
export async function request(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = authHeaders(Object.fromEntries(new Headers(init.headers).entries()));
  let res: Response;
  try {
    res = await fetch(path, { ...init, headers });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError(0, `Ferry did not answer (${(err as Error).message}); is the server running?`);
  }
  if (!res.ok) throw await errorOf(res);
  return res;
}

/** GET (or any method with a JSON body) and parse the JSON answer. */
export async function api<T>(path: string, opts: { method?: string; body?: unknown; signal?: AbortSignal } = {}): Promise<T> {
  const init: RequestInit = { method: opts.method ?? (opts.body === undefined ? 'GET' : 'POST'), signal: opts.signal };
  if (opts.body !== undefined) {
    init.body = JSON.stringify(opts.body);
    init.headers = { 'content-type': 'application/json' };
  }
  const res = await request(path, init);
  return (await res.json()) as T;
}

export interface SseEvent {
  readonly event: string;
  readonly data: string;
}

/** Reads a server-sent event stream with fetch, which (unlike EventSource) can send the key as a
 *  header. Calls onEvent for each event until the stream ends or `signal` aborts. */
export async function streamEvents(path: string, init: RequestInit, onEvent: (e: SseEvent) => void): Promise<void> {
  const res = await request(path, init);
  if (!res.body) return;
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  // the SSE spec allows CRLF, CR or LF line ends (a proxy may rewrite them): all become LF here. A CR
  // that ends a chunk waits for the next one, which may start with the LF of the same CRLF.
  let cr = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      const raw = cr + value;
      cr = raw.endsWith('\r') ? '\r' : '';
      buffer += raw.slice(0, raw.length - cr.length).replace(/\r\n?/g, '\n');
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue; // keep-alive comment
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const val = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'event') event = val;
          else if (field === 'data') data.push(val);
        }
        if (data.length > 0) onEvent({ event, data: data.join('\n') });
      }
    }
  } finally {
    // onEvent threw (an error chunk, bad JSON) or the caller stopped: close the stream, or the
    // connection stays open and the server keeps generating for nobody
    await reader.cancel().catch(() => undefined);
  }
}

export const enc = encodeURIComponent;
