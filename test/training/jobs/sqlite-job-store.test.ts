import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SqliteJobStore } from '../../../src/training/jobs/sqlite-job-store.js';
import { jobStoreContract } from './job-store.contract.js';

jobStoreContract('SqliteJobStore', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ferry-jobs-'));
  const file = path.join(dir, 'ferry.db');
  return { store: new SqliteJobStore(file), reopen: () => new SqliteJobStore(file), dispose: async () => rmSync(dir, { recursive: true, force: true }) };
});
