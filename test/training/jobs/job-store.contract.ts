// The behaviour every JobStore (src/training/jobs/job-store.ts) must have. An implementation's test
// file calls jobStoreContract with a factory that opens a fresh, empty store, and a way to reopen
// the same store (durability across restarts is what resuming jobs relies on).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JobRecord } from '../../../src/training/jobs/job.js';
import type { JobStore } from '../../../src/training/jobs/job-store.js';
import { RECIPES } from '../../../src/training/recipes.js';

export interface JobStoreHarness {
  readonly store: JobStore;
  reopen(): JobStore;
  dispose(): Promise<void>;
}

const job = (id: string, createdAt: string, over: Partial<JobRecord> = {}): JobRecord => ({
  id, state: 'queued', spec: RECIPES['mnist-mlp']!, createdAt, epochs: [], ...over,
});

export function jobStoreContract(name: string, open: () => Promise<JobStoreHarness>): void {
  describe(`JobStore contract: ${name}`, () => {
    const withStore = async (body: (h: JobStoreHarness) => Promise<void>) => {
      const h = await open();
      try {
        await body(h);
      } finally {
        await h.dispose();
      }
    };

    it('stores, reads back and updates whole records, newest first', () => withStore(async ({ store }) => {
      assert.equal(await store.get('a'), undefined);
      await store.create(job('a', '2026-01-01T00:00:00.000Z'));
      await store.create(job('b', '2026-01-02T00:00:00.000Z'));
      assert.deepEqual((await store.list()).map((j) => j.id), ['b', 'a']);
      const epoch = { epoch: 1, trainLoss: 0.5, testLoss: 0.4, testAccuracy: 0.9, learningRate: 0.001, seconds: 0.1, samplesPerSec: 80000 };
      await store.update(job('a', '2026-01-01T00:00:00.000Z', { state: 'running', epochs: [epoch], resumedFromEpoch: 1 }));
      assert.deepEqual(await store.get('a'), job('a', '2026-01-01T00:00:00.000Z', { state: 'running', epochs: [epoch], resumedFromEpoch: 1 }));
      await store.close();
    }));

    it('refuses a duplicate id and an update of a job that does not exist', () => withStore(async ({ store }) => {
      await store.create(job('a', '2026-01-01T00:00:00.000Z'));
      await assert.rejects(store.create(job('a', '2026-01-03T00:00:00.000Z')));
      await assert.rejects(store.update(job('ghost', '2026-01-01T00:00:00.000Z')), /ghost/);
      await store.close();
    }));

    it('keeps records across a reopen, as resuming after a crash needs', () => withStore(async (h) => {
      await h.store.create(job('a', '2026-01-01T00:00:00.000Z', { state: 'running' }));
      await h.store.close();
      const again = h.reopen();
      assert.equal((await again.get('a'))?.state, 'running');
      await again.close();
    }));
  });
}
