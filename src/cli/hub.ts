// `ferry models pull hf://ORG/NAME[@REVISION]`: fetches a model in the Hugging Face ONNX layout from a
// Hugging Face–style hub into a local cache, then registers it as `ferry models push DIR --task` does.
//
// The revision is first resolved to the commit it names (the hub's revision API, else the X-Repo-Commit
// header on config.json), and every file is fetched as `resolve/<commit sha>/<file>`, so all files of
// one pull come from one commit even if the branch moves meanwhile. The cache is keyed by that commit
// (see hub-cache.ts), so a branch that moved is fetched anew, and a commit once cached is never fetched
// again. With the hub out of reach, a branch or tag pulled before is served from the commit it was then.
// Downloads (resumed, verified) are hub-fetch.ts's; the cache's layout and lock are hub-cache.ts's.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import type { FerryClient } from './client.js';
import { COMMIT_SHA, commitDir, hasAll, lockFolder, readEtags, readRef, repoCacheDir, unpinnedDir, writeEtag, writeRef } from './hub-cache.js';
import { advertised, downloadFile, etagOf, fileUrl, HubUnreachable, isRedirect, linked, PullReporter, request, statusError, type HubConnection, type HubContext } from './hub-fetch.js';

export { advertised, downloadFile, etagOf, HubUnreachable, PullReporter } from './hub-fetch.js';
export type { Advertised, FileResult, HubConnection, HubContext } from './hub-fetch.js';

/** config.json first: a missing repo fails, and the task is known, before the big file is fetched. */
export const HF_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx'] as const;
const FORM = 'hf://ORG/NAME[@REVISION], e.g. hf://Xenova/distilbert-base-uncased-finetuned-sst-2-english';

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

/** BertForSequenceClassification → text-classification, BertModel → feature-extraction; otherwise undefined. */
export function inferTask(config: unknown): string | undefined {
  const archs = (config as { architectures?: unknown } | null)?.architectures;
  const names = Array.isArray(archs) ? archs.filter((a): a is string => typeof a === 'string') : [];
  if (names.some((a) => a.endsWith('ForSequenceClassification'))) return 'text-classification';
  if (names.some((a) => /[a-z]Model$/.test(a))) return 'feature-extraction';
  return undefined;
}

/**
 * The commit `ref.revision` names now: the revision itself when it is a commit sha; else the `sha` the
 * hub's revision API gives (`/api/models/ORG/NAME/revision/REV`); else, for a hub without that API,
 * the X-Repo-Commit header of a HEAD of config.json. Undefined when the hub names no commit.
 */
export async function resolveRevision(ref: HubRef, ctx: HubConnection): Promise<string | undefined> {
  if (COMMIT_SHA.test(ref.revision)) return ref.revision;
  const api = await request(new URL(`${ctx.endpoint}/api/models/${ref.org}/${ref.name}/revision/${encodeURIComponent(ref.revision)}`), ctx);
  if (api.res.ok) {
    const sha = await api.res.json().then((b) => (b as { sha?: unknown } | null)?.sha, () => undefined);
    if (typeof sha === 'string' && COMMIT_SHA.test(sha)) return sha;
  } else {
    await api.res.body?.cancel();
  }
  // Any other answer (a mirror without the API may say 404, even RepoNotFound, to every path it does
  // not serve) falls back to config.json, whose answer also says what is wrong with the repository,
  // the revision or the token in the words the file downloads use.
  const { res, hops } = await request(fileUrl(ref, ref.revision, 'config.json', ctx), ctx, { method: 'HEAD', stayOnHub: true });
  await res.body?.cancel();
  if (!res.ok && !isRedirect(res)) throw statusError(ref, 'config.json', res, ctx);
  const sha = linked(hops, 'x-repo-commit')?.trim().toLowerCase();
  return sha !== undefined && COMMIT_SHA.test(sha) ? sha : undefined;
}

/**
 * For a revision the hub names no commit for: keeps a cached file only if the hub's ETag is the one it
 * had when it was downloaded and the size agrees; otherwise deletes it, to be fetched again.
 */
export async function revalidate(ref: HubRef, file: string, ctx: HubContext): Promise<void> {
  const target = path.join(ctx.dir, file);
  if (!existsSync(target)) return;
  const { res, hops } = await request(fileUrl(ref, ctx.at, file, ctx), ctx, { method: 'HEAD', stayOnHub: true });
  await res.body?.cancel();
  if (!res.ok && !isRedirect(res)) throw statusError(ref, file, res, ctx);
  const etag = etagOf(hops), had = readEtags(ctx.dir)[file], { size } = advertised(hops);
  if (etag !== undefined && etag === had && (size === undefined || size === statSync(target).size)) return;
  rmSync(target, { force: true });
  writeEtag(ctx.dir, file, undefined);
  ctx.report.note(`${file}: not the same at the hub as in the cache; downloading it again`);
}

/**
 * Brings `ref`'s files into the cache and hands their folder to `use` while no other pull can change
 * it; `afterConfig` runs once config.json is there, before the other files are fetched. Returns the
 * commit the files are from (undefined when the hub names none).
 */
export async function pullSnapshot(ref: HubRef, conn: HubConnection, repoDir: string, report: PullReporter, steps: { afterConfig(dir: string): void; use(dir: string): void }): Promise<{ sha?: string; offline: boolean }> {
  let sha: string | undefined, offline = false;
  try {
    sha = await resolveRevision(ref, conn);
  } catch (err) {
    // offline: a branch or tag pulled in full before is served from the commit it named then
    const known = err instanceof HubUnreachable ? readRef(repoDir, ref.revision) : undefined;
    if (known === undefined || !hasAll(commitDir(repoDir, known), HF_FILES)) throw err;
    report.note(`${(err as Error).message}; using commit ${known} from the cache, which ${ref.revision} named at its last pull (the hub may have moved ${ref.revision} since)`);
    sha = known;
    offline = true;
  }
  if (sha === undefined) report.note(`${conn.endpoint} names no commit for ${ref.revision}; checking the cached files against the hub`);
  else if (!offline && sha !== ref.revision) report.note(`${ref.revision} is commit ${sha}`);
  const dir = sha !== undefined ? commitDir(repoDir, sha) : unpinnedDir(repoDir, ref.revision);
  const ctx: HubContext = { ...conn, dir, at: sha ?? ref.revision, pinned: sha !== undefined, report };
  // A commit's folder, once complete, never changes again: read without the lock. Anything else is
  // fetched (and an unpinned folder also read) under the lock, so two pulls at once do not collide.
  const lock = sha !== undefined && hasAll(dir, HF_FILES) ? undefined
    : await lockFolder(dir, (holder, file) => report.note(`waiting for another pull of ${ref.org}/${ref.name} (process ${holder}) to finish with ${dir}; if none is running, delete ${file}`));
  try {
    if (!ctx.pinned) for (const file of HF_FILES) await revalidate(ref, file, ctx);
    for (const file of HF_FILES) {
      const r = await downloadFile(ref, file, ctx);
      if (!ctx.pinned && !r.cached) writeEtag(dir, file, r.etag);
      report.done(r);
      if (file === 'config.json') steps.afterConfig(dir);
    }
    if (sha !== undefined && !offline && sha !== ref.revision) writeRef(repoDir, ref.revision, sha);
    steps.use(dir);
  } finally {
    lock?.release();
  }
  return { ...(sha !== undefined ? { sha } : {}), offline };
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
      const conn: HubConnection = { endpoint, ...(token ? { token } : {}) };
      const repoDir = repoCacheDir(path.resolve(opts.cache ?? defaultCacheDir()), ref);
      const source = `hf://${ref.org}/${ref.name}@${ref.revision}`;

      const { packHfDirectory } = await import('../text/hf-import.js');
      const packedDir = mkdtempSync(path.join(tmpdir(), 'ferry-pull-'));
      let v: { model: string; version: number; sizeBytes: number };
      try {
        const packed = path.join(packedDir, 'model.onnx');
        let task = opts.task;
        const { sha } = await pullSnapshot(ref, conn, repoDir, new PullReporter(), {
          afterConfig: (dir) => void (task ??= taskOf(path.join(dir, 'config.json'), source, TEXT_TASKS)),
          use: (dir) => writeFileSync(packed, packHfDirectory(dir, { task: task!, truncation: opts.truncation })),
        });
        const commit = sha !== undefined && sha !== ref.revision ? ` (commit ${sha})` : '';
        const q = new URLSearchParams({ description: opts.description ?? `pulled from ${source}${commit} at ${endpoint}` });
        if (opts.config) q.set('config', opts.config);
        v = (await client().upload(`/api/models/${encodeURIComponent(name)}/versions?${q}`, packed, uploadProgress)) as typeof v;
        console.log(`registered ${v.model} version ${v.version} (${v.sizeBytes} bytes) from ${source} as ${task}`);
      } finally {
        rmSync(packedDir, { recursive: true, force: true });
      }
    });
}
