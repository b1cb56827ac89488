import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { SqliteMetadataStore } from '../../src/registry/sqlite/sqlite-store.js';
import { tempDir } from '../helpers/server.js';
import { metadataStoreContract, newVersion } from './metadata-store.contract.js';

metadataStoreContract('SqliteMetadataStore on a file', async () => {
  const dir = tempDir('ferry-sqlite-');
  return { store: new SqliteMetadataStore(path.join(dir, 'ferry.db')), dispose: () => rm(dir, { recursive: true, force: true }) };
});

metadataStoreContract('SqliteMetadataStore in memory', async () => ({ store: new SqliteMetadataStore(':memory:'), dispose: async () => {} }));

describe('SqliteMetadataStore', () => {
  it('keeps models, versions, aliases and the version counter when the file is closed and reopened', async () => {
    const dir = tempDir('ferry-sqlite-');
    const file = path.join(dir, 'ferry.db');
    try {
      const first = new SqliteMetadataStore(file);
      const v1 = await first.addVersion(newVersion('m', 1, { config: { maxBatchSize: 4 }, metadata: { source: 'test' } }));
      await first.addVersion(newVersion('m', 2));
      await first.addVersion(newVersion('m', 3));
      await first.deleteVersion('m', 3);
      await first.setAlias('m', 'prod', 1);
      await first.close();

      const again = new SqliteMetadataStore(file);
      try {
        const m = await again.getModel('m');
        assert.deepEqual([m?.versions, m?.aliases], [[1, 2], { prod: 1 }]);
        assert.deepEqual(await again.getVersion('m', 1), v1);
        assert.equal((await again.addVersion(newVersion('m', 4))).version, 4, 'the deleted version 3 stays used after a restart');
      } finally {
        await again.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('stamps createdAt from the injected clock', async () => {
    let now = Date.parse('2024-05-01T12:00:00.000Z');
    const store = new SqliteMetadataStore(':memory:', () => new Date(now));
    try {
      const v1 = await store.addVersion(newVersion('m', 1));
      now += 60_000;
      const v2 = await store.addVersion(newVersion('m', 2));
      assert.deepEqual([v1.createdAt, v2.createdAt], ['2024-05-01T12:00:00.000Z', '2024-05-01T12:01:00.000Z']);
      assert.equal((await store.getModel('m'))?.createdAt, '2024-05-01T12:00:00.000Z');
      await store.deleteVersion('m', 1);
      await store.deleteVersion('m', 2);
      now += 60_000;
      await store.addVersion(newVersion('m', 3));
      assert.equal((await store.getModel('m'))?.createdAt, '2024-05-01T12:02:00.000Z', 'a model pushed again after deletion is new');
    } finally {
      await store.close();
    }
  });
});
