// The seam between the registry and where its metadata lives: SQLite by default, PostgreSQL at scale.
// Every implementation must pass test/registry/metadata-store.contract.ts.
import type { ModelAccess, ModelSummary, NewVersion, VersionRecord } from './records.js';

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
  /** Owner and shares of a model with live versions; undefined when there is no such model. */
  getAccess(model: string): Promise<ModelAccess | undefined>;
  /** Reserves a name for a tenant before its first version exists (a training job's target): a name
   *  with no live versions is (re)claimed, one with versions keeps its owner. Returns the owner. */
  claim(model: string, owner: string | null): Promise<string | null>;
  /** Shares a model with another tenant (idempotent); false when there is no such model. */
  share(model: string, tenant: string): Promise<boolean>;
  unshare(model: string, tenant: string): Promise<boolean>;
  close(): Promise<void>;
}
