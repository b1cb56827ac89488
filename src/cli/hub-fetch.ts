// The HTTP side of `ferry models pull` (see hub.ts): requests that keep the token with the hub, what
// the hub advertises about a file, and one file's download into the cache: resumed from its `.part`
// with `Range: bytes=N-`, and moved into place only once its size and (for LFS files) sha256 match
// what the hub advertised, so a file in the cache is a verified file.
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, existsSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import { FERRY_VERSION } from '../version.js';
import type { HubRef } from './hub.js';

const LAYOUT = 'config.json, tokenizer.json, tokenizer_config.json and onnx/model.onnx';
/** Tries per file; each must get further than the one before, so a dead link fails fast. */
const MAX_TRIES = 10;

export interface Advertised { readonly size?: number; readonly sha256?: string }

/**
 * What the hub says a file is, from every response on the way to it (redirects first, the body's
 * response last). For LFS files the hub puts the object's sha256 and size in X-Linked-Etag and
 * X-Linked-Size on its redirect, since the CDN's own ETag is not a sha256; other files carry a git
 * blob ETag (sha1), so only their size can be checked.
 */
export function advertised(hops: readonly Headers[]): Advertised {
  const etag = etagOf(hops) ?? '';
  // a redirect's Content-Length is its own (a HEAD that stops at the hub's redirect ends on one)
  const last = hops.at(-1)?.has('location') ? undefined : hops.at(-1);
  const range = last?.get('content-range');
  // a 206's Content-Length is the rest, not the file; Content-Range ends with the whole size
  const size = linked(hops, 'x-linked-size') ?? (range ? /\/(\d+)$/.exec(range)?.[1] : last?.get('content-length'));
  return {
    ...(size !== undefined && size !== null && /^\d+$/.test(size) ? { size: Number(size) } : {}),
    ...(/^[0-9a-f]{64}$/.test(etag) ? { sha256: etag } : {}),
  };
}

export const linked = (hops: readonly Headers[], h: string) => hops.map((x) => x.get(h)).find((v) => v !== null) ?? undefined;

/** The hub's ETag of a file (the LFS sha256, else the git blob's), as a GET or a HEAD of it sees it. */
export function etagOf(hops: readonly Headers[]): string | undefined {
  const etag = (linked(hops, 'x-linked-etag') ?? hops[0]?.get('etag') ?? '').replace(/^W\//, '').replace(/"/g, '').trim().toLowerCase();
  return etag === '' ? undefined : etag;
}

export interface FileResult { readonly file: string; readonly bytes: number; readonly cached: boolean; readonly resumedAt?: number; readonly etag?: string }

export interface HubConnection {
  /** e.g. https://huggingface.co, without a trailing slash */
  readonly endpoint: string;
  readonly token?: string;
}

export interface HubContext extends HubConnection {
  /** this commit's (or unpinned revision's) folder in the cache */
  readonly dir: string;
  /** the revision the files are fetched at: the commit sha, or the revision's name when the hub names no commit */
  readonly at: string;
  /** `at` is a commit sha: what it names never changes, so a leftover .part can be resumed */
  readonly pinned: boolean;
  readonly report: PullReporter;
}

/** The hub itself could not be reached (as opposed to answering with an error). */
export class HubUnreachable extends Error {}

const fmtBytes = (n: number) => (n < 1e3 ? `${n} B` : n < 1e6 ? `${(n / 1e3).toFixed(1)} kB` : `${(n / 1e6).toFixed(1)} MB`);
const reason = (err: unknown) => {
  const e = err as Error & { cause?: Error & { code?: string } };
  return e.cause?.code ?? e.cause?.message ?? e.message;
};

interface RequestOptions {
  readonly method?: 'GET' | 'HEAD';
  /** ask for the bytes from here on */
  readonly from?: number;
  /** stop at a redirect to another host (a HEAD wants the hub's headers, not the CDN's) */
  readonly stayOnHub?: boolean;
}

export const isRedirect = (res: Response) => res.status >= 300 && res.status < 400 && res.headers.has('location');

/** Follows redirects by hand, so the token stays with the hub and every hop's headers are seen. */
export async function request(start: URL, ctx: HubConnection, opts: RequestOptions = {}): Promise<{ res: Response; hops: Headers[] }> {
  const hops: Headers[] = [];
  let url = start;
  for (let hop = 0; hop <= 5; hop++) {
    // identity: fetch would otherwise ask for gzip and inflate it, and Range and sizes count raw bytes
    const headers: Record<string, string> = { 'user-agent': `ferry/${FERRY_VERSION}`, 'accept-encoding': 'identity' };
    if ((opts.from ?? 0) > 0) headers['range'] = `bytes=${opts.from}-`;
    // The hub sends LFS files to a CDN on another host, with a signed URL; the token is not for it.
    if (ctx.token && url.origin === start.origin) headers['authorization'] = `Bearer ${ctx.token}`;
    let res: Response;
    try {
      res = await fetch(url, { method: opts.method ?? 'GET', headers, redirect: 'manual' });
    } catch (err) {
      if (url.origin === start.origin) throw new HubUnreachable(`cannot reach the hub at ${ctx.endpoint} (set --endpoint or HF_ENDPOINT): ${reason(err)}`);
      throw new Error(`cannot reach ${url.host}, where the hub redirected: ${reason(err)}`);
    }
    hops.push(res.headers);
    if (!isRedirect(res)) return { res, hops };
    const next = new URL(res.headers.get('location') ?? '', url);
    if (opts.stayOnHub && next.origin !== start.origin) return { res, hops };
    await res.body?.cancel();
    url = next;
  }
  throw new Error(`${start.pathname}: more than 5 redirects from ${ctx.endpoint}`);
}

export function fileUrl(ref: HubRef, at: string, file: string, ctx: HubConnection): URL {
  return new URL(`${ctx.endpoint}/${ref.org}/${ref.name}/resolve/${encodeURIComponent(at)}/${file}`);
}

export function statusError(ref: HubRef, file: string, res: Response, ctx: HubConnection): Error {
  const repo = `${ref.org}/${ref.name}`;
  const said = (res.headers.get('x-error-message') ?? '').slice(0, 200);
  const hint = ctx.token ? 'the token in HF_TOKEN was sent; check that it can read this repository' : 'for a private or gated repository set HF_TOKEN to an access token that can read it';
  switch (res.headers.get('x-error-code') ?? '') {
    case 'RepoNotFound': return new Error(`repository ${repo} not found at ${ctx.endpoint} (HTTP ${res.status}); ${hint}`);
    case 'RevisionNotFound': return new Error(`revision ${ref.revision} not found in ${repo} at ${ctx.endpoint} (HTTP ${res.status})`);
  }
  if (res.status === 401 || res.status === 403) return new Error(`${ctx.endpoint} refused ${file} of ${repo}@${ref.revision} (HTTP ${res.status}); ${hint}`);
  if (res.status === 404) {
    return new Error(`${repo}@${ref.revision} has no ${file} at ${ctx.endpoint} (HTTP 404): check the repository and revision; ferry models pull needs the Hugging Face ONNX layout (${LAYOUT})`);
  }
  return new Error(`${ctx.endpoint} answered HTTP ${res.status} for ${file} of ${repo}@${ref.revision}${said ? `: ${said}` : ''}`);
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Throws, and deletes the download, unless it is what the hub advertised. */
async function verify(part: string, file: string, want: Advertised): Promise<void> {
  const size = statSync(part).size;
  let problem: string | undefined;
  if (want.size !== undefined && size !== want.size) problem = `it is ${size} bytes but the hub says ${want.size}`;
  else if (want.sha256) {
    const actual = await sha256Of(part);
    if (actual !== want.sha256) problem = `its sha256 is ${actual} but the hub says ${want.sha256}`;
  }
  if (problem === undefined) return;
  rmSync(part, { force: true });
  throw new Error(`integrity check failed for ${file}: ${problem}; the download was deleted, run the pull again`);
}

/** One file into the cache: reused when there, resumed from its `.part`, verified, then moved into place. */
export async function downloadFile(ref: HubRef, file: string, ctx: HubContext): Promise<FileResult> {
  const target = path.join(ctx.dir, file), part = `${target}.part`;
  if (existsSync(target)) return { file, bytes: statSync(target).size, cached: true };
  mkdirSync(path.dirname(target), { recursive: true });
  // a leftover .part of a moving branch may be a prefix of another version of the file
  if (!ctx.pinned) rmSync(part, { force: true });
  const url = fileUrl(ref, ctx.at, file, ctx);
  let resumedAt: number | undefined;
  for (let attempt = 1; ; attempt++) {
    const have = existsSync(part) ? statSync(part).size : 0;
    const { res, hops } = await request(url, ctx, { from: have });
    const start = Number(/^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '')?.[1] ?? 0);
    // 416: the .part is no longer a prefix of the file (longer than it); a 206 elsewhere: not ours
    if ((res.status === 416 && have > 0) || (res.status === 206 && start !== have)) {
      await res.body?.cancel();
      rmSync(part, { force: true });
      if (attempt < MAX_TRIES) continue;
      throw new Error(`${ctx.endpoint} keeps answering ${file} with a range other than the one asked for; cannot resume`);
    }
    if (!res.ok || !res.body) {
      await res.body?.cancel();
      throw statusError(ref, file, res, ctx);
    }
    // a 200 to a Range request is the whole file: start over
    const resumed = res.status === 206 && have > 0;
    resumedAt = resumed ? (resumedAt ?? have) : undefined;
    const want = advertised(hops);
    const before = resumed ? have : 0;
    let got = before;
    let broke: unknown;
    const fd = openSync(part, resumed ? 'a' : 'w');
    try {
      // synchronous writes: whatever arrived before a connection drops is on disk to resume from
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        writeSync(fd, chunk);
        got += chunk.length;
        ctx.report.progress(file, got, want.size);
      }
    } catch (err) {
      broke = err;
    } finally {
      closeSync(fd);
    }
    if (broke !== undefined || (want.size !== undefined && got < want.size)) {
      const of = want.size === undefined ? '' : ` of ${fmtBytes(want.size)}`;
      if (got > before && attempt < MAX_TRIES) {
        ctx.report.note(`${file}: connection dropped at ${fmtBytes(got)}${of}; resuming`);
        continue;
      }
      throw new Error(`downloading ${file} from ${url.host} broke off at ${fmtBytes(got)}${of} (${broke === undefined ? 'the server closed early' : reason(broke)}); run the pull again to resume`);
    }
    await verify(part, file, want);
    renameSync(part, target);
    const etag = etagOf(hops);
    return { file, bytes: got, cached: false, ...(resumedAt !== undefined ? { resumedAt } : {}), ...(etag !== undefined ? { etag } : {}) };
  }
}

/** A bar per file on a terminal; one line per file when stderr is a file or a pipe. */
export class PullReporter {
  private drawn = -1;
  constructor(private readonly out: NodeJS.WriteStream = process.stderr) {}

  private get live(): boolean {
    return this.out.isTTY === true;
  }

  progress(file: string, done: number, total: number | undefined): void {
    if (!this.live) return;
    const frac = total ? Math.min(1, done / total) : 0;
    const permille = Math.floor(frac * 1000);
    if (permille === this.drawn && done !== total) return; // a redraw per 64 kB chunk floods slow terminals
    this.drawn = permille;
    const width = 30, bar = '█'.repeat(Math.round(frac * width)).padEnd(width, '░');
    const amount = total ? `${fmtBytes(done)}/${fmtBytes(total)}` : fmtBytes(done);
    this.out.write(`\r\x1b[2K${bar} ${(frac * 100).toFixed(0).padStart(3)}%  ${file}  ${amount}`);
  }

  done(r: FileResult): void {
    const how = r.cached ? 'cached' : r.resumedAt !== undefined ? `downloaded (resumed at ${fmtBytes(r.resumedAt)})` : 'downloaded';
    this.note(`${r.file}  ${fmtBytes(r.bytes)}  ${how}`);
  }

  note(line: string): void {
    if (this.live) this.out.write('\r\x1b[2K');
    this.drawn = -1;
    this.out.write(`${line}\n`);
  }
}

