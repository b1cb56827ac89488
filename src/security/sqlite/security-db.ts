// API keys, the audit log and training-job owners in the server's SQLite file, in their own tables
// and connection (like the training jobs). better-sqlite3 is synchronous and these are
// microsecond-sized statements; the async interfaces leave room for PostgreSQL.
import { openSqlite, type SqliteDb, type SqliteStatement } from '../../storage/sqlite.js';
import type { AuditEntry, AuditLog, AuditQuery } from '../audit.js';
import type { KeyScope } from '../authorizer.js';
import { NO_LIMITS, type Limits } from '../limits.js';
import type { KeyRecord, KeyStore } from '../key-store.js';
import type { JobOwners } from '../tenancy.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS api_keys (
  id TEXT PRIMARY KEY,
  tenant TEXT NOT NULL,
  scopes TEXT NOT NULL,
  models TEXT,
  hash TEXT NOT NULL,
  created_at TEXT NOT NULL,
  expires_at TEXT,
  revoked_at TEXT,
  name TEXT,
  limits TEXT
);
CREATE TABLE IF NOT EXISTS audit_log (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  time TEXT NOT NULL,
  key_id TEXT,
  tenant TEXT,
  action TEXT NOT NULL,
  target TEXT,
  outcome TEXT NOT NULL,
  status INTEGER NOT NULL,
  ip TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_time ON audit_log (time);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE IF NOT EXISTS job_owners (
  job_id TEXT PRIMARY KEY,
  tenant TEXT
);
`;

interface KeyRow {
  id: string; tenant: string; scopes: string; models: string | null; hash: string;
  created_at: string; expires_at: string | null; revoked_at: string | null; name: string | null; limits: string | null;
}

const toKey = (r: KeyRow): KeyRecord => ({
  id: r.id, tenant: r.tenant, scopes: JSON.parse(r.scopes) as KeyScope[], models: r.models === null ? null : (JSON.parse(r.models) as string[]),
  hash: r.hash, createdAt: r.created_at, expiresAt: r.expires_at, revokedAt: r.revoked_at, name: r.name,
  limits: r.limits === null ? NO_LIMITS : ({ ...NO_LIMITS, ...(JSON.parse(r.limits) as Partial<Limits>) }),
});

interface AuditRow { time: string; key_id: string | null; tenant: string | null; action: string; target: string | null; outcome: AuditEntry['outcome']; status: number; ip: string }

export class SecurityDb implements KeyStore, AuditLog, JobOwners {
  private readonly db: SqliteDb;
  private readonly statements = new Map<string, SqliteStatement>();

  constructor(file: string) {
    this.db = openSqlite(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    // data folders from before limits: add the column
    const cols = this.db.prepare('PRAGMA table_info(api_keys)').all() as { name: string }[];
    if (!cols.some((c) => c.name === 'limits')) this.db.exec('ALTER TABLE api_keys ADD COLUMN limits TEXT');
  }

  private sql(text: string): SqliteStatement {
    let st = this.statements.get(text);
    if (!st) this.statements.set(text, (st = this.db.prepare(text)));
    return st;
  }

  // KeyStore
  async create(k: KeyRecord): Promise<void> {
    this.sql('INSERT INTO api_keys (id, tenant, scopes, models, hash, created_at, expires_at, revoked_at, name, limits) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(k.id, k.tenant, JSON.stringify(k.scopes), k.models === null ? null : JSON.stringify(k.models), k.hash, k.createdAt, k.expiresAt, k.revokedAt, k.name, JSON.stringify(k.limits));
  }

  async get(id: string): Promise<KeyRecord | undefined> {
    const row = this.sql('SELECT * FROM api_keys WHERE id = ?').get(id) as KeyRow | undefined;
    return row && toKey(row);
  }

  async list(tenant?: string): Promise<KeyRecord[]> {
    const rows = tenant === undefined
      ? this.sql('SELECT * FROM api_keys ORDER BY created_at DESC, rowid DESC').all()
      : this.sql('SELECT * FROM api_keys WHERE tenant = ? ORDER BY created_at DESC, rowid DESC').all(tenant);
    return (rows as KeyRow[]).map(toKey);
  }

  async revoke(id: string, at: string): Promise<boolean> {
    return this.sql('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(at, id).changes > 0;
  }

  async count(): Promise<number> {
    return this.sql('SELECT COUNT(*) FROM api_keys').pluck().get() as number;
  }

  // AuditLog
  async append(e: AuditEntry): Promise<void> {
    this.sql('INSERT INTO audit_log (time, key_id, tenant, action, target, outcome, status, ip) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(e.time, e.keyId, e.tenant, e.action, e.target, e.outcome, e.status, e.ip);
  }

  async query(q: AuditQuery): Promise<AuditEntry[]> {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (q.from !== undefined) (where.push('time >= ?'), args.push(q.from));
    if (q.to !== undefined) (where.push('time < ?'), args.push(q.to));
    if (q.tenant !== undefined) (where.push('tenant = ?'), args.push(q.tenant));
    if (q.action !== undefined) (where.push('action = ?'), args.push(q.action));
    args.push(q.limit ?? 1000);
    const rows = this.db.prepare(`SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq LIMIT ?`).all(...args) as AuditRow[];
    return rows.map((r) => ({ time: r.time, keyId: r.key_id, tenant: r.tenant, action: r.action, target: r.target, outcome: r.outcome, status: r.status, ip: r.ip }));
  }

  // JobOwners
  async setJobOwner(jobId: string, tenant: string | null): Promise<void> {
    this.sql('INSERT OR REPLACE INTO job_owners (job_id, tenant) VALUES (?, ?)').run(jobId, tenant);
  }

  async jobOwner(jobId: string): Promise<string | null | undefined> {
    const row = this.sql('SELECT tenant FROM job_owners WHERE job_id = ?').get(jobId) as { tenant: string | null } | undefined;
    return row?.tenant;
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
