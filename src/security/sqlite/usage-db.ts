// The usage ledger in the server's SQLite file, in its own tables and connection. Rows arrive in
// batches (UsageRecorder), each batch one transaction that also adds to the daily roll-ups, so the
// roll-ups are always current and budgets read them instead of scanning rows.
import { openSqlite, type SqliteDb, type SqliteStatement } from '../../storage/sqlite.js';
import type { Spent } from '../admission.js';
import type { UsageGroup, UsageLedger, UsageQuery, UsageRow } from '../usage.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS usage_rows (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  time TEXT NOT NULL,
  request_id TEXT NOT NULL,
  key_id TEXT,
  tenant TEXT,
  model TEXT,
  version INTEGER,
  status INTEGER NOT NULL,
  prompt_tokens INTEGER NOT NULL,
  completion_tokens INTEGER NOT NULL,
  queue_ms REAL NOT NULL,
  compute_ms REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS usage_rows_time ON usage_rows (time);
CREATE TABLE IF NOT EXISTS usage_payloads (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  time TEXT NOT NULL,
  request_id TEXT NOT NULL,
  key_id TEXT,
  tenant TEXT,
  payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS usage_payloads_time ON usage_payloads (time);
-- '' for "none" in the key columns: NULLs would not collide in the primary key
CREATE TABLE IF NOT EXISTS usage_daily (
  day TEXT NOT NULL,
  tenant TEXT NOT NULL,
  key_id TEXT NOT NULL,
  model TEXT NOT NULL,
  requests INTEGER NOT NULL,
  errors INTEGER NOT NULL,
  prompt_tokens INTEGER NOT NULL,
  completion_tokens INTEGER NOT NULL,
  queue_ms REAL NOT NULL,
  compute_ms REAL NOT NULL,
  PRIMARY KEY (day, tenant, key_id, model)
);
`;

const GROUP_COLUMN: Readonly<Record<UsageQuery['groupBy'], string>> = { model: 'model', key: 'key_id', day: 'day', tenant: 'tenant' };

export class UsageDb implements UsageLedger {
  private readonly db: SqliteDb;
  private readonly insertRow: SqliteStatement;
  private readonly insertPayload: SqliteStatement;
  private readonly rollup: SqliteStatement;
  private readonly writeAll: (rows: readonly UsageRow[]) => void;

  constructor(file: string) {
    this.db = openSqlite(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    this.insertRow = this.db.prepare('INSERT INTO usage_rows (time, request_id, key_id, tenant, model, version, status, prompt_tokens, completion_tokens, queue_ms, compute_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
    this.insertPayload = this.db.prepare('INSERT INTO usage_payloads (time, request_id, key_id, tenant, payload) VALUES (?, ?, ?, ?, ?)');
    this.rollup = this.db.prepare(`INSERT INTO usage_daily VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (day, tenant, key_id, model) DO UPDATE SET requests = requests + excluded.requests, errors = errors + excluded.errors,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens, completion_tokens = completion_tokens + excluded.completion_tokens,
        queue_ms = queue_ms + excluded.queue_ms, compute_ms = compute_ms + excluded.compute_ms`);
    this.writeAll = this.db.transaction((rows: readonly UsageRow[]) => {
      // a batch adds to few roll-up rows (one key, one model, one day): sum first, upsert once each
      const sums = new Map<string, [string, string, string, string, number, number, number, number, number, number]>();
      for (const r of rows) {
        this.insertRow.run(r.time, r.requestId, r.keyId, r.tenant, r.model, r.version, r.status, r.promptTokens, r.completionTokens, r.queueMs, r.computeMs);
        if (r.payload !== undefined) this.insertPayload.run(r.time, r.requestId, r.keyId, r.tenant, r.payload);
        const model = r.model === null ? '' : r.version === null ? r.model : `${r.model}:${r.version}`;
        const day = r.time.slice(0, 10), tenant = r.tenant ?? '', key = r.keyId ?? '';
        const id = `${day}\0${tenant}\0${key}\0${model}`;
        let s = sums.get(id);
        if (!s) sums.set(id, (s = [day, tenant, key, model, 0, 0, 0, 0, 0, 0]));
        s[4]++;
        if (r.status >= 400) s[5]++;
        s[6] += r.promptTokens;
        s[7] += r.completionTokens;
        s[8] += r.queueMs;
        s[9] += r.computeMs;
      }
      for (const s of sums.values()) this.rollup.run(...s);
    });
  }

  write(rows: readonly UsageRow[]): void {
    this.writeAll(rows);
  }

  async summary(q: UsageQuery): Promise<UsageGroup[]> {
    const where: string[] = [];
    const args: string[] = [];
    if (q.from !== undefined) (where.push('day >= ?'), args.push(q.from));
    if (q.to !== undefined) (where.push('day <= ?'), args.push(q.to));
    if (q.tenant !== undefined) (where.push('tenant = ?'), args.push(q.tenant));
    const col = GROUP_COLUMN[q.groupBy];
    const rows = this.db.prepare(`SELECT ${col} AS grp, SUM(requests) AS requests, SUM(errors) AS errors, SUM(prompt_tokens) AS prompt_tokens,
        SUM(completion_tokens) AS completion_tokens, SUM(queue_ms) AS queue_ms, SUM(compute_ms) AS compute_ms
      FROM usage_daily ${where.length ? `WHERE ${where.join(' AND ')}` : ''} GROUP BY ${col} ORDER BY ${col}`).all(...args) as
      { grp: string; requests: number; errors: number; prompt_tokens: number; completion_tokens: number; queue_ms: number; compute_ms: number }[];
    return rows.map((r) => ({
      group: r.grp, requests: r.requests, errors: r.errors, promptTokens: r.prompt_tokens, completionTokens: r.completion_tokens,
      queueMs: Math.round(r.queue_ms * 1000) / 1000, computeMs: Math.round(r.compute_ms * 1000) / 1000,
    }));
  }

  spent(who: { keyId?: string; tenant?: string }, from: Date, to: Date): Spent {
    const [col, value] = who.keyId !== undefined ? ['key_id', who.keyId] : ['tenant', who.tenant ?? ''];
    const r = this.db.prepare(`SELECT COALESCE(SUM(prompt_tokens + completion_tokens), 0) AS tokens, COALESCE(SUM(compute_ms), 0) AS compute_ms
      FROM usage_daily WHERE ${col} = ? AND day >= ? AND day < ?`).get(value, from.toISOString().slice(0, 10), to.toISOString().slice(0, 10)) as { tokens: number; compute_ms: number };
    return { tokens: r.tokens, computeMs: r.compute_ms };
  }

  prune(before: string): number {
    const rows = this.db.prepare('DELETE FROM usage_rows WHERE time < ?').run(before).changes;
    return rows + this.db.prepare('DELETE FROM usage_payloads WHERE time < ?').run(before).changes;
  }

  /** the rows themselves, oldest first: for tests and exports */
  rows(limit = 1000): UsageRow[] {
    return (this.db.prepare('SELECT * FROM usage_rows ORDER BY seq LIMIT ?').all(limit) as Record<string, unknown>[]).map((r) => ({
      time: r.time as string, requestId: r.request_id as string, keyId: r.key_id as string | null, tenant: r.tenant as string | null,
      model: r.model as string | null, version: r.version as number | null, status: r.status as number, promptTokens: r.prompt_tokens as number,
      completionTokens: r.completion_tokens as number, queueMs: r.queue_ms as number, computeMs: r.compute_ms as number,
    }));
  }

  payloads(): { requestId: string; payload: string }[] {
    return (this.db.prepare('SELECT request_id, payload FROM usage_payloads ORDER BY seq').all() as { request_id: string; payload: string }[]).map((r) => ({ requestId: r.request_id, payload: r.payload }));
  }

  close(): void {
    this.db.close();
  }
}
