// Job records in the same SQLite file as the model registry, in their own table and connection.
// A record is one JSON document: jobs are read whole and written a few times per epoch.
import { openSqlite, type SqliteDb } from '../../storage/sqlite.js';
import type { JobRecord } from './job.js';
import type { JobStore } from './job-store.js';

export class SqliteJobStore implements JobStore {
  private readonly db: SqliteDb;

  constructor(file: string) {
    this.db = openSqlite(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(`CREATE TABLE IF NOT EXISTS training_jobs (
      id TEXT PRIMARY KEY,
      created_at TEXT NOT NULL,
      record TEXT NOT NULL
    )`);
  }

  async create(job: JobRecord): Promise<void> {
    this.db.prepare('INSERT INTO training_jobs (id, created_at, record) VALUES (?, ?, ?)').run(job.id, job.createdAt, JSON.stringify(job));
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const row = this.db.prepare('SELECT record FROM training_jobs WHERE id = ?').get(id) as { record: string } | undefined;
    return row ? (JSON.parse(row.record) as JobRecord) : undefined;
  }

  async list(): Promise<JobRecord[]> {
    const rows = this.db.prepare('SELECT record FROM training_jobs ORDER BY created_at DESC, rowid DESC').all() as { record: string }[];
    return rows.map((r) => JSON.parse(r.record) as JobRecord);
  }

  async update(job: JobRecord): Promise<void> {
    const r = this.db.prepare('UPDATE training_jobs SET record = ? WHERE id = ?').run(JSON.stringify(job), job.id);
    if (r.changes !== 1) throw new Error(`training job ${job.id} does not exist`);
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
