// A MetadataStore that remembers reads. Resolving a model and version happens on every inference
// request, and measured 10% of the CPU of the serving benchmark when it went to SQLite each time.
// Writes through this store drop the model's entries, so one server always sees its own writes.
// (Several replicas sharing PostgreSQL will need a change feed or a short TTL on top of this.)
import type { MetadataStore } from './metadata-store.js';
import type { ModelAccess, ModelSummary, NewVersion, VersionRecord } from './records.js';

export class CachedMetadataStore implements MetadataStore {
  private readonly models = new Map<string, Promise<ModelSummary | undefined>>();
  private readonly versions = new Map<string, Promise<VersionRecord | undefined>>();
  /** checked on every request that names a model, like getModel */
  private readonly access = new Map<string, Promise<ModelAccess | undefined>>();

  constructor(private readonly inner: MetadataStore) {}

  private forget(model: string): void {
    this.models.delete(model);
    this.access.delete(model);
    for (const key of this.versions.keys()) if (key.startsWith(`${model}\u0000`)) this.versions.delete(key);
  }

  /** Runs a write, then drops what was cached of its model (also when the write failed part-way). */
  private async write<T>(model: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } finally {
      this.forget(model);
    }
  }

  listModels(): Promise<ModelSummary[]> {
    return this.inner.listModels();
  }

  getModel(name: string): Promise<ModelSummary | undefined> {
    let p = this.models.get(name);
    if (!p) {
      p = this.inner.getModel(name);
      // Misses are not kept: a name probed by a bad client must not grow the cache.
      void p.then((m) => { if (!m) this.models.delete(name); }, () => this.models.delete(name));
      this.models.set(name, p);
    }
    return p;
  }

  addVersion(v: NewVersion): Promise<VersionRecord> {
    return this.write(v.model, () => this.inner.addVersion(v));
  }

  getVersion(model: string, version: number): Promise<VersionRecord | undefined> {
    const key = `${model}\u0000${version}`;
    let p = this.versions.get(key);
    if (!p) {
      p = this.inner.getVersion(model, version);
      void p.then((v) => { if (!v) this.versions.delete(key); }, () => this.versions.delete(key));
      this.versions.set(key, p);
    }
    return p;
  }

  listVersions(model: string): Promise<VersionRecord[]> {
    return this.inner.listVersions(model);
  }

  deleteVersion(model: string, version: number): Promise<boolean> {
    return this.write(model, () => this.inner.deleteVersion(model, version));
  }

  setAlias(model: string, alias: string, version: number): Promise<void> {
    return this.write(model, () => this.inner.setAlias(model, alias, version));
  }

  deleteAlias(model: string, alias: string): Promise<boolean> {
    return this.write(model, () => this.inner.deleteAlias(model, alias));
  }

  getAccess(model: string): Promise<ModelAccess | undefined> {
    let p = this.access.get(model);
    if (!p) {
      p = this.inner.getAccess(model);
      void p.then((a) => { if (!a) this.access.delete(model); }, () => this.access.delete(model));
      this.access.set(model, p);
    }
    return p;
  }

  claim(model: string, owner: string | null): Promise<string | null> {
    return this.write(model, () => this.inner.claim(model, owner));
  }

  share(model: string, tenant: string): Promise<boolean> {
    return this.write(model, () => this.inner.share(model, tenant));
  }

  unshare(model: string, tenant: string): Promise<boolean> {
    return this.write(model, () => this.inner.unshare(model, tenant));
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
