// The seam between the job service and where job records live: SQLite here, PostgreSQL at scale.
// Every implementation must pass test/training/jobs/job-store.contract.ts.
import type { JobRecord } from './job.js';

export interface JobStore {
  create(job: JobRecord): Promise<void>;
  get(id: string): Promise<JobRecord | undefined>;
  /** newest first */
  list(): Promise<JobRecord[]>;
  /** replaces the stored record (ids never change) */
  update(job: JobRecord): Promise<void>;
  close(): Promise<void>;
}
