// The seam between the registry and where its metadata lives: SQLite by default, PostgreSQL at scale.
// Every implementation must pass test/registry/metadata-store.contract.ts.
import type { ModelSummary, NewVersion, VersionRecord } from './records.js';

export interface MetadataStore {
  listModels(): Promise<ModelSummary[]>;
  getModel(name: string): Promise<ModelSummary | undefined>;
  /**
   * Adds a version, creating the model if needed. Numbers start at 1 and are never reused for a model
   * name, even after a version or the whole model is deleted, so "version 3" always means the same bytes.
   */
  addVersion(v: NewVersion): Promise<VersionRecord>;
  getVersion(model: string, version: number): Promise<VersionRecord | undefined>;
  listVersions(model: string): Promise<VersionRecord[]>;
  /** Removes the version and any alias pointing at it; the model goes when its last version goes. */
  deleteVersion(model: string, version: number): Promise<boolean>;
  setAlias(model: string, alias: string, version: number): Promise<void>;
  deleteAlias(model: string, alias: string): Promise<boolean>;
  close(): Promise<void>;
}
