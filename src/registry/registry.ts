// Models, versions and aliases over a MetadataStore and an ArtifactStore. A new version becomes
// visible only after its file was staged, parsed by Ferry's own ONNX reader and loaded by the runtime.
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { FerryError } from '../core/errors.js';
import { inspectOnnx, OnnxFormatError, type OnnxSummary } from '../graph/onnx.js';
import type { Runtime, Signature } from '../runtimes/runtime.js';
import type { ArtifactStore } from './artifact-store.js';
import type { MetadataStore } from './metadata-store.js';
import { effectiveConfig, parseModelConfig, type ModelConfig, type ServingDefaults } from './model-config.js';
import { checkAliasName, checkModelName, parseVersionRef, splitModelRef } from './names.js';
import type { ModelFormat, ModelSummary, VersionRecord } from './records.js';

/** "GGUF": llama.cpp's model files, served as generative models */
const GGUF_MAGIC = [0x47, 0x47, 0x55, 0x46];

export interface RegistryOptions {
  readonly maxUploadBytes: number;
  readonly intraOpThreads: number;
  readonly defaults: ServingDefaults;
  /** checks and test-loads a GGUF upload (generative models); without it GGUF files are refused */
  readonly checkGguf?: (file: string) => Promise<CheckedModel>;
}

export interface PushOptions {
  readonly config?: ModelConfig;
  readonly metadata?: Record<string, unknown>;
  /** the tenant a new model belongs to (see NewVersion.owner) */
  readonly owner?: string | null;
}

/** The answer for a model that does not exist, and for one the caller may not see: the same words,
 *  so a 404 never tells another tenant's model from a missing one. */
export const noSuchModel = (name: string): FerryError =>
  new FerryError('NOT_FOUND', `model "${name.slice(0, 200)}" does not exist; GET /v2/repository/index lists the models`);

/** Unversioned requests go to this alias when the model has it, else to the highest version. */
export const DEFAULT_ALIAS = 'prod';

export class Registry {
  constructor(
    readonly meta: MetadataStore,
    readonly artifacts: ArtifactStore,
    private readonly runtime: Runtime,
    private readonly options: RegistryOptions,
  ) {}

  /** Registers a new immutable version from a byte stream (an HTTP body or a file). */
  async push(name: string, source: AsyncIterable<Uint8Array>, opts: PushOptions = {}): Promise<VersionRecord> {
    checkModelName(name);
    const config = parseModelConfig(opts.config ?? {});
    const staged = await this.artifacts.stage(source, this.options.maxUploadBytes);
    try {
      const { signature, embedded, format = 'onnx' } = await this.check(staged.path, staged.sizeBytes);
      // rejects e.g. batching a model that cannot batch; a generative model has no batcher
      if (format === 'onnx') effectiveConfig(config, signature, this.options.defaults);
      // The random part keeps two versions with the same bytes from sharing one file, which deleting
      // either of them would remove.
      const key = `models/${name}/${staged.sha256.slice(0, 16)}-${randomBytes(6).toString('hex')}.${format}`;
      await this.artifacts.commit(staged, key);
      try {
        return await this.meta.addVersion({
          model: name, format, artifactKey: key, sizeBytes: staged.sizeBytes, sha256: staged.sha256,
          signature, config, metadata: { ...embedded, ...opts.metadata }, ...(opts.owner !== undefined ? { owner: opts.owner } : {}),
        });
      } catch (err) {
        await this.artifacts.delete(key);
        throw err;
      }
    } finally {
      await this.artifacts.discard(staged);
    }
  }

  async pushFile(name: string, file: string, opts: PushOptions = {}): Promise<VersionRecord> {
    checkModelName(name); // before a file descriptor is opened that a refused push would leave open
    return this.push(name, createReadStream(file), opts);
  }

  private checking: Promise<unknown> = Promise.resolve();

  /** Checks one upload at a time: each holds its whole file in memory and a test-loaded session. */
  private check(file: string, size: number): Promise<CheckedModel> {
    const turn = this.checking.then(() => this.checkNow(file, size));
    this.checking = turn.catch(() => {});
    return turn;
  }

  /** Parses with Ferry's reader first (native code is never handed garbage), then test-loads it. */
  private async checkNow(file: string, size: number): Promise<CheckedModel> {
    if (size === 0) throw new FerryError('INVALID_ARGUMENT', 'the uploaded file is empty; send the bytes of an .onnx or .gguf model as the request body');
    if (await startsWith(file, GGUF_MAGIC)) {
      if (!this.options.checkGguf) throw new FerryError('INVALID_ARGUMENT', 'this registry does not take GGUF models');
      return { ...(await this.options.checkGguf(file)), format: 'gguf' };
    }
    let summary: OnnxSummary;
    try {
      summary = inspectOnnx(new Uint8Array(await readFile(file)));
    } catch (err) {
      if (err instanceof OnnxFormatError) throw new FerryError('INVALID_ARGUMENT', `the upload is not a valid ONNX model: ${err.message}`);
      throw err;
    }
    const loaded = await this.runtime.load({ path: file, format: 'onnx' }, { intraOpThreads: this.options.intraOpThreads });
    const signature = loaded.signature;
    await loaded.unload();
    return { signature, embedded: embeddedMetadata(summary.metadata) };
  }

  list(): Promise<ModelSummary[]> {
    return this.meta.listModels();
  }

  async model(name: string): Promise<ModelSummary> {
    const m = await this.meta.getModel(name);
    if (!m) throw noSuchModel(name);
    return m;
  }

  /** Resolves a version number, an alias, "latest", or nothing (the default policy) to a record. */
  async resolve(name: string, ref?: string): Promise<VersionRecord> {
    const m = await this.model(name);
    let version: number;
    if (ref === undefined || ref === '') version = m.aliases[DEFAULT_ALIAS] ?? m.latestVersion;
    else if (ref === 'latest') version = m.latestVersion;
    else {
      const parsed = parseVersionRef(ref);
      if (typeof parsed === 'number') version = parsed;
      else {
        const v = m.aliases[parsed];
        if (v === undefined) throw new FerryError('NOT_FOUND', `model "${name}" has no alias "${parsed}"; its aliases: ${Object.keys(m.aliases).join(', ') || 'none'}`);
        version = v;
      }
    }
    const rec = await this.meta.getVersion(name, version);
    if (!rec) throw new FerryError('NOT_FOUND', `model "${name}" has no version ${version}; its versions: ${m.versions.join(', ')}`);
    return rec;
  }

  /** Resolves "model", "model:3" or "model:prod" (the form specs and OpenAI requests use). */
  resolveRef(ref: string): Promise<VersionRecord> {
    return this.resolve(...splitModelRef(ref));
  }

  async setAlias(name: string, alias: string, version: number): Promise<void> {
    checkAliasName(alias);
    await this.resolve(name, String(version));
    await this.meta.setAlias(name, alias, version);
  }

  async deleteAlias(name: string, alias: string): Promise<void> {
    await this.model(name);
    if (!(await this.meta.deleteAlias(name, alias))) throw new FerryError('NOT_FOUND', `model "${name}" has no alias "${alias}"`);
  }

  /** Removes a version: metadata first (it disappears at once), then its file. */
  async deleteVersion(name: string, version: number): Promise<VersionRecord> {
    const rec = await this.resolve(name, String(version));
    await this.meta.deleteVersion(name, version);
    await this.artifacts.delete(rec.artifactKey);
    return rec;
  }

  async deleteModel(name: string): Promise<VersionRecord[]> {
    await this.model(name);
    const removed: VersionRecord[] = [];
    for (const v of await this.meta.listVersions(name)) removed.push(await this.deleteVersion(name, v.version));
    return removed;
  }

  /** Deletes files that no version references (left by a crash between commit and insert). */
  async collectGarbage(): Promise<number> {
    await this.artifacts.sweepStaging();
    const referenced = new Set<string>();
    for (const m of await this.meta.listModels()) for (const v of await this.meta.listVersions(m.name)) referenced.add(v.artifactKey);
    let removed = 0;
    for (const key of await this.artifacts.list()) {
      if (key.startsWith('models/') && !referenced.has(key)) {
        await this.artifacts.delete(key);
        removed++;
      }
    }
    return removed;
  }
}

/** Whether the file begins with these bytes. */
async function startsWith(file: string, magic: readonly number[]): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const b = Buffer.alloc(magic.length);
    const { bytesRead } = await fh.read(b, 0, magic.length, 0);
    return bytesRead === magic.length && magic.every((m, i) => b[i] === m);
  } finally {
    await fh.close();
  }
}

export interface CheckedModel {
  readonly signature: Signature;
  readonly format?: ModelFormat;
  /** what the file says about itself, kept in the version's metadata */
  readonly embedded: Record<string, unknown>;
}

/** A model Ferry trained carries its training record and class names in metadata_props, so the
 *  record follows the file through `ferry models push` or any other copy. */
function embeddedMetadata(props: Readonly<Record<string, string>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [prop, key] of [['ferry.training', 'training'], ['ferry.classes', 'classes']] as const) {
    const raw = props[prop];
    if (raw === undefined) continue;
    try {
      out[key] = JSON.parse(raw);
    } catch {
      // a hand-edited or foreign value: keep the model, drop the unreadable record
    }
  }
  // the task is a plain string, not JSON: it decides which endpoints serve the model
  if (props['ferry.task'] !== undefined) out['task'] = props['ferry.task'].slice(0, 100);
  const training = out['training'] as { spec?: { description?: unknown } } | undefined;
  if (typeof training?.spec?.description === 'string') out['description'] = training.spec.description;
  return out;
}
