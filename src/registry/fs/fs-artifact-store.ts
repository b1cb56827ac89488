// The default ArtifactStore: files under <data>/artifacts. Staged uploads live in .staging on the same
// filesystem, so committing is one rename — atomic, never a half-written model file.
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { FerryError } from '../../core/errors.js';
import type { ArtifactStore, StagedArtifact } from '../artifact-store.js';

export class FsArtifactStore implements ArtifactStore {
  private readonly staging: string;
  /** staged files this process has not yet committed or discarded: sweepStaging must leave them */
  private readonly inFlight = new Set<string>();

  constructor(private readonly root: string) {
    this.staging = path.join(root, '.staging');
  }

  private fileOf(key: string): string {
    // Keys are built by the registry from checked names, but a store must not trust its caller with paths.
    const file = path.resolve(this.root, key);
    if (!file.startsWith(path.resolve(this.root) + path.sep) || key.split('/').some((p) => p.startsWith('.'))) {
      throw new FerryError('INVALID_ARGUMENT', `artifact key ${JSON.stringify(key)} is not a plain relative path`);
    }
    return file;
  }

  async stage(source: AsyncIterable<Uint8Array>, limitBytes: number): Promise<StagedArtifact> {
    await mkdir(this.staging, { recursive: true });
    const file = path.join(this.staging, `${randomUUID()}.part`);
    this.inFlight.add(file);
    const hash = createHash('sha256');
    let size = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        if (size > limitBytes) {
          done(new FerryError('PAYLOAD_TOO_LARGE', `the upload is larger than the limit of ${limitBytes} bytes; raise maxUploadBytes in the server config`));
          return;
        }
        hash.update(chunk);
        done(null, chunk);
      },
    });
    const out = createWriteStream(file, { flags: 'wx' });
    try {
      await pipeline(source, meter, out);
    } catch (err) {
      // pipeline settles before the destroyed write stream has closed, and one destroyed while still
      // opening creates its file after that: removing the file any earlier can leave it behind.
      if (!out.closed) await new Promise<void>((resolve) => out.once('close', () => resolve()));
      await rm(file, { force: true });
      this.inFlight.delete(file);
      if (err instanceof FerryError) throw err;
      throw new FerryError('INVALID_ARGUMENT', `the upload did not complete (${(err as Error).message}); nothing was stored, send the file again`, { cause: err });
    }
    return { path: file, sizeBytes: size, sha256: hash.digest('hex') };
  }

  async commit(staged: StagedArtifact, key: string): Promise<void> {
    const dest = this.fileOf(key);
    // A key names immutable bytes: rename would silently replace a file another version still uses.
    if (await this.exists(key)) throw new FerryError('ALREADY_EXISTS', `artifact ${key} already exists; artifacts are never overwritten`);
    await mkdir(path.dirname(dest), { recursive: true });
    await rename(staged.path, dest);
    this.inFlight.delete(staged.path);
  }

  async discard(staged: StagedArtifact): Promise<void> {
    await rm(staged.path, { force: true });
    this.inFlight.delete(staged.path);
  }

  async localPath(key: string): Promise<string> {
    const file = this.fileOf(key);
    if (!(await this.exists(key))) throw new FerryError('NOT_FOUND', `artifact ${key} is missing from ${this.root}`);
    return file;
  }

  async exists(key: string): Promise<boolean> {
    return stat(this.fileOf(key)).then((s) => s.isFile(), () => false);
  }

  async delete(key: string): Promise<void> {
    await rm(this.fileOf(key), { force: true });
  }

  async list(): Promise<string[]> {
    const entries = await readdir(this.root, { recursive: true, withFileTypes: true }).catch(() => []);
    return entries
      .filter((e) => e.isFile())
      .map((e) => path.relative(this.root, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
      .filter((k) => !k.startsWith('.'));
  }

  async sweepStaging(): Promise<void> {
    const names = await readdir(this.staging).catch(() => []);
    for (const n of names) {
      const file = path.join(this.staging, n);
      if (!this.inFlight.has(file)) await rm(file, { recursive: true, force: true });
    }
  }
}
