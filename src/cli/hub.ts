// `ferry models pull hf://ORG/NAME[@REVISION]`: fetches a model in the Hugging Face ONNX layout from a
// Hugging Face–style hub into a local cache, then registers it as `ferry models push DIR --task` does.
//
// A download goes to `file.part` and resumes from it with `Range: bytes=N-`; the file is moved into
// place only once its size and (for LFS files) sha256 match what the hub advertised, so a file in the
// cache is a verified file and is never fetched again. Cache: DIR/ORG/NAME/REVISION/<files>.
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { FERRY_VERSION } from '../version.js';
import type { FerryClient } from './client.js';

/** config.json first: a missing repo fails, and the task is known, before the big file is fetched. */
export const HF_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx'] as const;
const LAYOUT = 'config.json, tokenizer.json, tokenizer_config.json and onnx/model.onnx';
const FORM = 'hf://ORG/NAME[@REVISION], e.g. hf://Xenova/distilbert-base-uncased-finetuned-sst-2-english';
/** Tries per file; each must get further than the one before, so a dead link fails fast. */
const MAX_TRIES = 10;

export interface HubRef { readonly org: string; readonly name: string; readonly revision: string }

// Hub repo names: letters, digits, '.', '_', '-', not starting or ending with a separator.
const SEGMENT = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?$/;
const REVISION = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,254}$/;

/** `hf://Xenova/bert-base-uncased@v1` → { org: 'Xenova', name: 'bert-base-uncased', revision: 'v1' } */
export function parseHubRef(spec: string): HubRef {
  const m = /^hf:\/\/([^/@]+)\/([^/@]+)(?:@(.*))?$/.exec(spec);
  if (!m) throw new Error(`expected ${FORM}; got ${JSON.stringify(spec)}`);
  const [, org = '', name = '', revision = 'main'] = m;
  if (!SEGMENT.test(org) || !SEGMENT.test(name) || `${org}/${name}`.includes('..')) {
    throw new Error(`expected ${FORM}, where ORG and NAME are letters, digits, '.', '_' or '-'; got ${JSON.stringify(spec)}`);
  }
  // the revision becomes a folder name in the cache, so nothing that could climb out of it
  if (!REVISION.test(revision) || revision.includes('..')) throw new Error(`${JSON.stringify(revision)} is not a branch, tag or commit name; expected ${FORM}`);
  return { org, name, revision };
}

export interface Advertised { readonly size?: number; readonly sha256?: string }

/**
 * What the hub says a file is, from every response on the way to it (redirects first, the body's
 * response last). For LFS files the hub puts the object's sha256 and size in X-Linked-Etag and
 * X-Linked-Size on its redirect, since the CDN's own ETag is not a sha256; other files carry a git
 * blob ETag (sha1), so only their size can be checked.
 */
export function advertised(hops: readonly Headers[]): Advertised {
  const linked = (h: string) => hops.map((x) => x.get(h)).find((v) => v !== null) ?? undefined;
  const etag = (linked('x-linked-etag') ?? hops[0]?.get('etag') ?? '').replace(/^W\//, '').replace(/"/g, '').trim().toLowerCase();
  const last = hops.at(-1);
  const range = last?.get('content-range');
  // a 206's Content-Length is the rest, not the file; Content-Range ends with the whole size
  const size = linked('x-linked-size') ?? (range ? /\/(\d+)$/.exec(range)?.[1] : last?.get('content-length'));
  return {
    ...(size !== undefined && size !== null && /^\d+$/.test(size) ? { size: Number(size) } : {}),
    ...(/^[0-9a-f]{64}$/.test(etag) ? { sha256: etag } : {}),
  };
}

/** BertForSequenceClassification → text-classification, BertModel → feature-extraction; otherwise undefined. */
export function inferTask(config: unknown): string | undefined {
  const archs = (config as { architectures?: unknown } | null)?.architectures;
  const names = Array.isArray(archs) ? archs.filter((a): a is string => typeof a === 'string') : [];
  if (names.some((a) => a.endsWith('ForSequenceClassification'))) return 'text-classification';
  if (names.some((a) => /[a-z]Model$/.test(a))) return 'feature-extraction';
  return undefined;
}

export interface FileResult { readonly file: string; readonly bytes: number; readonly cached: boolean; readonly resumedAt?: number }

export interface HubContext {
  /** e.g. https://huggingface.co, without a trailing slash */
  readonly endpoint: string;
  readonly token?: string;
  /** this repo and revision's folder in the cache */
  readonly dir: string;
  readonly report: PullReporter;
}

const fmtBytes = (n: number) => (n < 1e3 ? `${n} B` : n < 1e6 ? `${(n / 1e3).toFixed(1)} kB` : `${(n / 1e6).toFixed(1)} MB`);
const reason = (err: unknown) => {
  const e = err as Error & { cause?: Error & { code?: string } };
  return e.cause?.code ?? e.cause?.message ?? e.message;
};

/** Follows redirects by hand, so the token stays with the hub and every hop's headers are seen. */
async function request(start: URL, from: number, ctx: HubContext): Promise<{ res: Response; hops: Headers[] }> {
  const hops: Headers[] = [];
  let url = start;
  for (let hop = 0; hop <= 5; hop++) {
    // identity: fetch would otherwise ask for gzip and inflate it, and Range and sizes count raw bytes
    const headers: Record<string, string> = { 'user-agent': `ferry/${FERRY_VERSION}`, 'accept-encoding': 'identity' };
    if (from > 0) headers['range'] = `bytes=${from}-`;
    // The hub sends LFS files to a CDN on another host, with a signed URL; the token is not for it.
    if (ctx.token && url.origin === start.origin) headers['authorization'] = `Bearer ${ctx.token}`;
    let res: Response;
    try {
      res = await fetch(url, { headers, redirect: 'manual' });
    } catch (err) {
      const where = url.origin === start.origin ? `the hub at ${ctx.endpoint} (set --endpoint or HF_ENDPOINT)` : `${url.host}, where the hub redirected`;
      throw new Error(`cannot reach ${where}: ${reason(err)}`);
    }
    hops.push(res.headers);
    const location = res.headers.get('location');
    if (res.status < 300 || res.status >= 400 || !location) return { res, hops };
    await res.body?.cancel();
    url = new URL(location, url);
  }
  throw new Error(`${start.pathname}: more than 5 redirects from ${ctx.endpoint}`);
}

function statusError(ref: HubRef, file: string, res: Response, ctx: HubContext): Error {
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
  const url = new URL(`${ctx.endpoint}/${ref.org}/${ref.name}/resolve/${encodeURIComponent(ref.revision)}/${file}`);
  let resumedAt: number | undefined;
  for (let attempt = 1; ; attempt++) {
    const have = existsSync(part) ? statSync(part).size : 0;
    const { res, hops } = await request(url, have, ctx);
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
    return { file, bytes: got, cached: false, ...(resumedAt !== undefined ? { resumedAt } : {}) };
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

function hubEndpoint(flag: string | undefined): string {
  const raw = flag ?? (process.env['HF_ENDPOINT'] || 'https://huggingface.co');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`--endpoint ${JSON.stringify(raw)} is not a URL; use e.g. https://huggingface.co`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`--endpoint must be an http(s) URL, got ${raw}`);
  return url.href.replace(/\/+$/, '');
}

export function defaultCacheDir(): string {
  return path.join(process.env['XDG_CACHE_HOME'] || path.join(homedir(), '.cache'), 'ferry', 'hub');
}

function taskOf(configFile: string, source: string, tasks: readonly string[]): string {
  let config: unknown;
  try {
    config = JSON.parse(readFileSync(configFile, 'utf8'));
  } catch (err) {
    throw new Error(`config.json of ${source} is not valid JSON (${(err as Error).message})`);
  }
  const task = inferTask(config);
  if (task !== undefined) return task;
  const archs = JSON.stringify((config as { architectures?: unknown } | null)?.architectures ?? null);
  throw new Error(`cannot tell the task from config.json of ${source} (architectures: ${archs}); pass --task ${tasks.join(' or --task ')}`);
}

interface PullFlags { name?: string; task?: string; truncation?: boolean; endpoint?: string; cache?: string; config?: string; description?: string }

export function pullCommand(models: Command, client: () => FerryClient, uploadProgress: (sent: number, total: number) => void): void {
  models.command('pull <hf://ORG/NAME[@REVISION]>').description('download a Hugging Face ONNX model (config.json, tokenizer.json, onnx/model.onnx) from a hub and register it')
    .option('--name <name>', 'model name (default: NAME)')
    .option('--task <task>', 'text-classification or feature-extraction (default: from config.json architectures)')
    .option('--truncation', 'text models: cut texts longer than the model takes instead of refusing them')
    .option('--endpoint <url>', 'hub to download from (env HF_ENDPOINT, default https://huggingface.co); token from env HF_TOKEN')
    .option('--cache <dir>', 'download cache (default ~/.cache/ferry/hub, or $XDG_CACHE_HOME/ferry/hub)')
    .option('--config <json>', 'serving config as JSON, e.g. \'{"maxBatchSize":32}\'')
    .option('--description <text>', 'a description stored with the version (default: where it came from)')
    .action(async (spec: string, opts: PullFlags) => {
      const ref = parseHubRef(spec);
      // checked before anything is downloaded, not after
      const { checkModelName } = await import('../registry/names.js');
      const name = checkModelName(opts.name ?? ref.name);
      const { TEXT_TASKS } = await import('../tasks/text-runtime.js');
      if (opts.task !== undefined && !(TEXT_TASKS as readonly string[]).includes(opts.task)) throw new Error(`--task must be one of ${TEXT_TASKS.join(', ')}, got "${opts.task}"`);
      if (opts.config) {
        try {
          JSON.parse(opts.config);
        } catch {
          throw new Error(`--config must be a JSON object, e.g. '{"maxBatchSize":32}'; got ${opts.config}`);
        }
      }
      const endpoint = hubEndpoint(opts.endpoint);
      const token = process.env['HF_TOKEN'] || process.env['HUGGING_FACE_HUB_TOKEN'] || undefined;
      const dir = path.join(path.resolve(opts.cache ?? defaultCacheDir()), ref.org, ref.name, encodeURIComponent(ref.revision));
      const ctx: HubContext = { endpoint, dir, report: new PullReporter(), ...(token ? { token } : {}) };
      const source = `hf://${ref.org}/${ref.name}@${ref.revision}`;

      ctx.report.done(await downloadFile(ref, 'config.json', ctx));
      const task = opts.task ?? taskOf(path.join(dir, 'config.json'), source, TEXT_TASKS);
      for (const file of HF_FILES.filter((f) => f !== 'config.json')) ctx.report.done(await downloadFile(ref, file, ctx));

      const { packHfDirectory } = await import('../text/hf-import.js');
      const packedDir = mkdtempSync(path.join(tmpdir(), 'ferry-pull-'));
      const q = new URLSearchParams({ description: opts.description ?? `pulled from ${source} at ${endpoint}` });
      if (opts.config) q.set('config', opts.config);
      let v: { model: string; version: number; sizeBytes: number };
      try {
        const packed = path.join(packedDir, 'model.onnx');
        writeFileSync(packed, packHfDirectory(dir, { task, truncation: opts.truncation }));
        v = (await client().upload(`/api/models/${encodeURIComponent(name)}/versions?${q}`, packed, uploadProgress)) as typeof v;
      } finally {
        rmSync(packedDir, { recursive: true, force: true });
      }
      console.log(`registered ${v.model} version ${v.version} (${v.sizeBytes} bytes) from ${source} as ${task}`);
    });
}
