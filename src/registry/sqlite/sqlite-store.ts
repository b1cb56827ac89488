// The embedded MetadataStore: one SQLite file, opened through src/storage/sqlite.ts.
// better-sqlite3 is synchronous; each call is a few microseconds on this metadata, so the async
// interface just wraps it (PostgreSQL will need the async shape for real).
import { openSqlite, type SqliteDb, type SqliteStatement } from '../../storage/sqlite.js';
import { FerryError } from '../../core/errors.js';
import type { MetadataStore } from '../metadata-store.js';
import type { ModelAccess, ModelSummary, NewVersion, VersionRecord } from '../records.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS models (
  name TEXT PRIMARY KEY,
  created_at TEXT NOT NULL,
  next_version INTEGER NOT NULL DEFAULT 1,
  owner TEXT
);
CREATE TABLE IF NOT EXISTS versions (
  model TEXT NOT NULL REFERENCES models(name) ON DELETE CASCADE,
  version INTEGER NOT NULL,
  format TEXT NOT NULL,
  artifact_key TEXT NOT NULL,
  size_bytes INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  created_at TEXT NOT NULL,
  signature TEXT NOT NULL,
  config TEXT NOT NULL,
  metadata TEXT NOT NULL,
  PRIMARY KEY (model, version)
);
CREATE TABLE IF NOT EXISTS aliases (
  model TEXT NOT NULL,
  alias TEXT NOT NULL,
  version INTEGER NOT NULL,
  PRIMARY KEY (model, alias),
  FOREIGN KEY (model, version) REFERENCES versions(model, version) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS model_shares (
  model TEXT NOT NULL REFERENCES models(name) ON DELETE CASCADE,
  tenant TEXT NOT NULL,
  PRIMARY KEY (model, tenant)
);
`;

/** Data folders from before tenants have a models table without an owner column. Their models keep
 *  owner NULL: public, as they were when the server had no keys, and managed by the admin tenant. */
function migrate(db: SqliteDb): void {
  const columns = db.prepare('PRAGMA table_info(models)').all() as { name: string }[];
  if (!columns.some((c) => c.name === 'owner')) db.exec('ALTER TABLE models ADD COLUMN owner TEXT');
}

interface VersionRow {
  model: string; version: number; format: string; artifact_key: string; size_bytes: number; sha256: string;
  created_at: string; signature: string; config: string; metadata: string;
}

function toRecord(r: VersionRow): VersionRecord {
  return {
    model: r.model, version: r.version, format: r.format as VersionRecord['format'], artifactKey: r.artifact_key,
    sizeBytes: r.size_bytes, sha256: r.sha256, createdAt: r.created_at,
    signature: JSON.parse(r.signature), config: JSON.parse(r.config), metadata: JSON.parse(r.metadata),
  };
}

export class SqliteMetadataStore implements MetadataStore {
  private readonly db: SqliteDb;
  private readonly statements = new Map<string, SqliteStatement>();

  /** Prepared once per SQL text: preparing costs more than running these small queries. */
  private sql(text: string): SqliteStatement {
    let st = this.statements.get(text);
    if (!st) {
      st = this.db.prepare(text);
      this.statements.set(text, st);
    }
    return st;
  }

  /** `file` may be ':memory:' for tests that do not care about durability. */
  constructor(file: string, private readonly now: () => Date = () => new Date()) {
    this.db = openSqlite(file);
    // WAL keeps readers (metadata requests) from blocking on an upload's write.
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    migrate(this.db);
  }

  async listModels(): Promise<ModelSummary[]> {
    const names = this.sql('SELECT name FROM models ORDER BY name').pluck().all() as string[];
    return names.map((n) => this.summary(n)!).filter((m) => m.versions.length > 0);
  }

  async getModel(name: string): Promise<ModelSummary | undefined> {
    const m = this.summary(name);
    return m && m.versions.length > 0 ? m : undefined;
  }

  private summary(name: string): ModelSummary | undefined {
    const row = this.sql('SELECT name, created_at FROM models WHERE name = ?').get(name) as { name: string; created_at: string } | undefined;
    if (!row) return undefined;
    const versions = this.sql('SELECT version FROM versions WHERE model = ? ORDER BY version').pluck().all(name) as number[];
    const aliasRows = this.sql('SELECT alias, version FROM aliases WHERE model = ? ORDER BY alias').all(name) as { alias: string; version: number }[];
    return {
      name, createdAt: row.created_at, versions, latestVersion: versions.at(-1) ?? 0,
      aliases: Object.fromEntries(aliasRows.map((a) => [a.alias, a.version])),
    };
  }

  async addVersion(v: NewVersion): Promise<VersionRecord> {
    const createdAt = this.now().toISOString();
    const insert = this.db.transaction((): number => {
      // The first version's pusher owns the name for good: deleting every version keeps the row (and
      // its owner), so another tenant cannot take the name over and continue its version numbers.
      this.sql('INSERT OR IGNORE INTO models (name, created_at, owner) VALUES (?, ?, ?)').run(v.model, createdAt, v.owner ?? null);
      // A model whose versions were all deleted is kept as a row holding next_version, so its numbers are
      // never handed out again; coming back, it counts as created now.
      const live = this.sql('SELECT COUNT(*) FROM versions WHERE model = ?').pluck().get(v.model) as number;
      if (live === 0) this.sql('UPDATE models SET created_at = ? WHERE name = ?').run(createdAt, v.model);
      const version = this.sql('SELECT next_version FROM models WHERE name = ?').pluck().get(v.model) as number;
      this.sql('UPDATE models SET next_version = ? WHERE name = ?').run(version + 1, v.model);
      this.sql(`INSERT INTO versions (model, version, format, artifact_key, size_bytes, sha256, created_at, signature, config, metadata)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(v.model, version, v.format, v.artifactKey, v.sizeBytes, v.sha256, createdAt,
        JSON.stringify(v.signature), JSON.stringify(v.config), JSON.stringify(v.metadata));
      return version;
    });
    const { owner: _owner, ...rec } = v;
    return { ...rec, version: insert.immediate(), createdAt };
  }

  async getVersion(model: string, version: number): Promise<VersionRecord | undefined> {
    const row = this.sql('SELECT * FROM versions WHERE model = ? AND version = ?').get(model, version) as VersionRow | undefined;
    return row && toRecord(row);
  }

  async listVersions(model: string): Promise<VersionRecord[]> {
    return (this.sql('SELECT * FROM versions WHERE model = ? ORDER BY version').all(model) as VersionRow[]).map(toRecord);
  }

  async deleteVersion(model: string, version: number): Promise<boolean> {
    // Aliases go with the version (ON DELETE CASCADE). The models row stays so that its next_version
    // survives: listModels and getModel hide a model with no versions left.
    return this.sql('DELETE FROM versions WHERE model = ? AND version = ?').run(model, version).changes > 0;
  }

  async setAlias(model: string, alias: string, version: number): Promise<void> {
    if (!(await this.getVersion(model, version))) throw new FerryError('NOT_FOUND', `model "${model}" has no version ${version} to point alias "${alias}" at`);
    this.sql('INSERT INTO aliases (model, alias, version) VALUES (?, ?, ?) ON CONFLICT (model, alias) DO UPDATE SET version = excluded.version')
      .run(model, alias, version);
  }

  async deleteAlias(model: string, alias: string): Promise<boolean> {
    return this.sql('DELETE FROM aliases WHERE model = ? AND alias = ?').run(model, alias).changes > 0;
  }

  async getAccess(model: string): Promise<ModelAccess | undefined> {
    const row = this.sql('SELECT owner FROM models WHERE name = ?').get(model) as { owner: string | null } | undefined;
    if (!row) return undefined;
    const sharedWith = this.sql('SELECT tenant FROM model_shares WHERE model = ? ORDER BY tenant').pluck().all(model) as string[];
    return { owner: row.owner, sharedWith };
  }

  async claim(model: string, owner: string | null): Promise<string | null> {
    this.sql('INSERT OR IGNORE INTO models (name, created_at, owner) VALUES (?, ?, ?)').run(model, this.now().toISOString(), owner);
    return (this.sql('SELECT owner FROM models WHERE name = ?').get(model) as { owner: string | null }).owner;
  }

  async share(model: string, tenant: string): Promise<boolean> {
    if (!(await this.getModel(model))) return false;
    this.sql('INSERT OR IGNORE INTO model_shares (model, tenant) VALUES (?, ?)').run(model, tenant);
    return true;
  }

  async unshare(model: string, tenant: string): Promise<boolean> {
    return this.sql('DELETE FROM model_shares WHERE model = ? AND tenant = ?').run(model, tenant).changes > 0;
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
