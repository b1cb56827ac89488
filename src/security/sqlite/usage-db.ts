// The usage ledger in the server's SQLite file, in its own tables and connection. Minute rows arrive
// in batches (UsageRecorder), each batch one transaction that also adds to the daily roll-ups, so the
// roll-ups are always current and budgets read them instead of scanning rows.
import { openSqlite, type SqliteDb, type SqliteStatement } from '../../storage/sqlite.js';
import type { Spent } from '../admission.js';
import type { UsageGroup, UsageLedger, UsageMinute, UsagePayload, UsageQuery } from '../usage.js';

const SCHEMA = `
-- '' and 0 for "no model" in model and version: NULLs would not collide in the primary key
CREATE TABLE IF NOT EXISTS usage_minutes (
  minute TEXT NOT NULL,
  tenant TEXT NOT NULL,
  key_id TEXT NOT NULL,
  model TEXT NOT NULL,
  version INTEGER NOT NULL,
  requests INTEGER NOT NULL,
  errors INTEGER NOT NULL,
  prompt_tokens INTEGER NOT NULL,
  completion_tokens INTEGER NOT NULL,
  queue_ms REAL NOT NULL,
  compute_ms REAL NOT NULL,
  PRIMARY KEY (minute, tenant, key_id, model, version)
);
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

const ADD = `requests = requests + excluded.requests, errors = errors + excluded.errors,
  prompt_tokens = prompt_tokens + excluded.prompt_tokens, completion_tokens = completion_tokens + excluded.completion_tokens,
  queue_ms = queue_ms + excluded.queue_ms, compute_ms = compute_ms + excluded.compute_ms`;

const ms = (v: number) => Math.round(v * 1000) / 1000;

export class UsageDb implements UsageLedger {
  private readonly db: SqliteDb;
  private readonly addMinute: SqliteStatement;
  private readonly insertPayload: SqliteStatement;
  private readonly rollup: SqliteStatement;
  private readonly writeAll: (minutes: readonly UsageMinute[], payloads: readonly UsagePayload[]) => void;
  /** usage_rows held a row per request until requests were summed by minute; a data folder from
   *  then keeps its rows until retention deletes them */
  private readonly requestRows: boolean;

  constructor(file: string) {
    this.db = openSqlite(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    this.requestRows = this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'usage_rows'").get() !== undefined;
    // a minute can arrive in several batches (a flush every second): later ones add to it
    this.addMinute = this.db.prepare(`INSERT INTO usage_minutes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (minute, tenant, key_id, model, version) DO UPDATE SET ${ADD}`);
    this.insertPayload = this.db.prepare('INSERT INTO usage_payloads (time, request_id, key_id, tenant, payload) VALUES (?, ?, ?, ?, ?)');
    this.rollup = this.db.prepare(`INSERT INTO usage_daily VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (day, tenant, key_id, model) DO UPDATE SET ${ADD}`);
    this.writeAll = this.db.transaction((minutes: readonly UsageMinute[], payloads: readonly UsagePayload[]) => {
      // a batch adds to few roll-up rows (one key, one model, one day): sum first, upsert once each
      const sums = new Map<string, [string, string, string, string, number, number, number, number, number, number]>();
      for (const r of minutes) {
        this.addMinute.run(r.minute, r.tenant, r.keyId, r.model ?? '', r.version ?? 0, r.requests, r.errors, r.promptTokens, r.completionTokens, ms(r.queueMs), ms(r.computeMs));
        const model = r.model === null ? '' : r.version === null ? r.model : `${r.model}:${r.version}`;
        const day = r.minute.slice(0, 10);
        const id = `${day}\0${r.tenant}\0${r.keyId}\0${model}`;
        let s = sums.get(id);
        if (!s) sums.set(id, (s = [day, r.tenant, r.keyId, model, 0, 0, 0, 0, 0, 0]));
        s[4] += r.requests;
        s[5] += r.errors;
        s[6] += r.promptTokens;
        s[7] += r.completionTokens;
        s[8] += ms(r.queueMs);
        s[9] += ms(r.computeMs);
      }
      for (const s of sums.values()) this.rollup.run(...s);
      for (const p of payloads) this.insertPayload.run(p.time, p.requestId, p.keyId, p.tenant, p.payload);
    });
  }

  write(minutes: readonly UsageMinute[], payloads: readonly UsagePayload[]): void {
    this.writeAll(minutes, payloads);
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
    // "2025-03-10T09:04" sorts before any ISO time in that minute or later
    const minutes = this.db.prepare('DELETE FROM usage_minutes WHERE minute < ?').run(before.slice(0, 16)).changes;
    const rows = this.requestRows ? this.db.prepare('DELETE FROM usage_rows WHERE time < ?').run(before).changes : 0;
    return minutes + rows + this.db.prepare('DELETE FROM usage_payloads WHERE time < ?').run(before).changes;
  }

  /** the minute rows, oldest first: for tests and exports */
  minutes(limit = 1000): UsageMinute[] {
    return (this.db.prepare('SELECT * FROM usage_minutes ORDER BY minute, tenant, key_id, model, version LIMIT ?').all(limit) as Record<string, unknown>[]).map((r) => ({
      minute: r.minute as string, tenant: r.tenant as string, keyId: r.key_id as string,
      model: r.model === '' ? null : r.model as string, version: r.model === '' ? null : r.version as number,
      requests: r.requests as number, errors: r.errors as number, promptTokens: r.prompt_tokens as number,
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
