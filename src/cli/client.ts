// A small HTTP client for the admin API, used by the CLI's model commands.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';

export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export class FerryClient {
  /** `apiKey` goes out as `Authorization: Bearer` on every request */
  constructor(private readonly base: string, private readonly apiKey?: string) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return this.apiKey ? { authorization: `Bearer ${this.apiKey}`, ...extra } : extra;
  }

  /** `path` is relative to the base, so a server behind a proxy prefix (http://host/ferry) still works. */
  private urlOf(path: string): URL {
    let base: URL;
    try {
      base = new URL(this.base.endsWith('/') ? this.base : `${this.base}/`);
    } catch {
      throw new ApiError(0, `--url ${JSON.stringify(this.base)} is not a URL; use e.g. http://127.0.0.1:8080`);
    }
    return new URL(path.replace(/^\//, ''), base);
  }

  private async call(method: string, path: string, init: RequestInit = {}): Promise<unknown> {
    const url = this.urlOf(path);
    let res: Response;
    try {
      res = await fetch(url, { method, ...init, headers: this.headers(init.headers as Record<string, string> | undefined) });
    } catch (err) {
      throw new ApiError(0, `cannot reach Ferry at ${this.base} (${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message}); is \`ferry serve\` running? Set --url or FERRY_URL`);
    }
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      /* not JSON: keep the text */
    }
    if (!res.ok) {
      const e = (body as { error?: { message?: string } | string }).error;
      const message = typeof e === 'string' ? e : e?.message ?? `HTTP ${res.status}`;
      if (res.status === 401 && !this.apiKey) throw new ApiError(401, `${message}\n  the CLI sends the key in FERRY_API_KEY or --api-key (\`ferry serve\` prints an admin key on first start)`);
      throw new ApiError(res.status, message);
    }
    return body;
  }

  get(path: string): Promise<unknown> {
    return this.call('GET', path);
  }

  delete(path: string): Promise<unknown> {
    return this.call('DELETE', path);
  }

  postJson(path: string, body: unknown): Promise<unknown> {
    return this.call('POST', path, { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  }

  /** A server-sent event stream, event by event, until the server ends it. */
  async *events(path: string): AsyncGenerator<{ event: string; data: unknown }> {
    let res: Response;
    try {
      res = await fetch(this.urlOf(path), { headers: this.headers({ accept: 'text/event-stream' }) });
    } catch (err) {
      throw new ApiError(0, `cannot reach Ferry at ${this.base} (${(err as Error).message})`);
    }
    if (!res.ok || !res.body) throw new ApiError(res.status, `GET ${path}: HTTP ${res.status}`);
    if (!res.headers.get('content-type')?.startsWith('text/event-stream')) {
      throw new ApiError(res.status, `GET ${path} did not answer with an event stream (content-type ${res.headers.get('content-type')})`);
    }
    const decoder = new TextDecoder();
    let buf = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      let cut: number;
      while ((cut = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        if (block.startsWith(':')) continue; // keep-alive
        const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
        const data = /^data: (.*)$/m.exec(block)?.[1];
        yield { event, data: data === undefined ? undefined : JSON.parse(data) };
      }
    }
  }

  putJson(path: string, body: unknown): Promise<unknown> {
    return this.call('PUT', path, { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  }

  /** Streams a file as the body, reporting bytes sent so the CLI can draw progress. */
  async upload(path: string, file: string, onProgress: (sent: number, total: number) => void): Promise<unknown> {
    const info = await stat(file).catch((err: NodeJS.ErrnoException) => {
      throw new ApiError(0, `cannot read ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
    });
    if (!info.isFile()) throw new ApiError(0, `${file} is not a file; pass the path of an .onnx model`);
    const total = info.size;
    let sent = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        sent += chunk.length;
        onProgress(sent, total);
        done(null, chunk);
      },
    });
    const body = Readable.toWeb(createReadStream(file).pipe(meter)) as ReadableStream;
    return this.call('POST', path, {
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(total) },
      body,
      duplex: 'half',
    } as RequestInit);
  }
}
