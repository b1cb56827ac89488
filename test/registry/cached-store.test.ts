import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CachedMetadataStore } from '../../src/registry/cached-store.js';
import { SqliteMetadataStore } from '../../src/registry/sqlite/sqlite-store.js';
import { metadataStoreContract, newVersion } from './metadata-store.contract.js';

metadataStoreContract('CachedMetadataStore over SQLite', async () => ({ store: new CachedMetadataStore(new SqliteMetadataStore(':memory:')), dispose: async () => {} }));

describe('CachedMetadataStore', () => {
  it('serves repeated reads from memory and sees its own writes at once', async () => {
    const inner = new SqliteMetadataStore(':memory:');
    let reads = 0;
    const counting = Object.assign(Object.create(inner) as SqliteMetadataStore, {
      getModel: (n: string) => (reads++, inner.getModel(n)),
      getVersion: (m: string, v: number) => (reads++, inner.getVersion(m, v)),
    });
    const store = new CachedMetadataStore(counting);
    await store.addVersion(newVersion('m', 1));
    for (let i = 0; i < 5; i++) {
      assert.equal((await store.getModel('m'))!.latestVersion, 1);
      assert.equal((await store.getVersion('m', 1))!.version, 1);
    }
    assert.equal(reads, 2, 'one read each, then the cache');
    await store.addVersion(newVersion('m', 2));
    await store.setAlias('m', 'prod', 1);
    const m = (await store.getModel('m'))!;
    assert.deepEqual([m.latestVersion, m.aliases], [2, { prod: 1 }]);
    await store.deleteVersion('m', 1);
    assert.equal(await store.getVersion('m', 1), undefined);
    assert.deepEqual((await store.getModel('m'))!.aliases, {});
  });

  it('does not keep misses, so probing unknown names cannot grow it or hide a later model', async () => {
    const inner = new SqliteMetadataStore(':memory:');
    const store = new CachedMetadataStore(inner);
    assert.equal(await store.getModel('later'), undefined);
    assert.equal(await store.getVersion('later', 1), undefined);
    await inner.addVersion(newVersion('later', 1)); // another writer, behind the cache's back
    assert.equal((await store.getModel('later'))!.latestVersion, 1);
    assert.equal((await store.getVersion('later', 1))!.version, 1);
  });
});
