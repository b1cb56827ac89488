// The behaviour every MetadataStore (src/registry/metadata-store.ts) must have. An implementation's
// test file calls metadataStoreContract with a factory that opens a fresh, empty store:
//
//   metadataStoreContract('SqliteMetadataStore', async () => {
//     const dir = tempDir();
//     return { store: new SqliteMetadataStore(path.join(dir, 'ferry.db')), dispose: () => rm(dir, ...) };
//   });
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MetadataStore } from '../../src/registry/metadata-store.js';
import type { NewVersion } from '../../src/registry/records.js';

export interface MetadataStoreHarness {
  readonly store: MetadataStore;
  /** removes whatever the factory created; the contract closes the store first */
  dispose(): Promise<void>;
}

/** A version as the registry would add it; `n` makes the artifact key and hash distinct. */
export function newVersion(model: string, n: number, extra: Partial<NewVersion> = {}): NewVersion {
  return {
    model, format: 'onnx', artifactKey: `models/${model}/${n}.onnx`, sizeBytes: 100 + n, sha256: n.toString(16).padStart(64, '0'),
    signature: { inputs: [{ name: 'x', dtype: 'FP32', shape: [-1, 3] }], outputs: [{ name: 'y', dtype: 'FP32', shape: [-1, 3] }] },
    config: {}, metadata: {},
    ...extra,
  };
}

export function metadataStoreContract(name: string, open: () => Promise<MetadataStoreHarness>): void {
  /** Runs `body` on a fresh store and always cleans up. */
  const withStore = async (body: (s: MetadataStore) => Promise<void>): Promise<void> => {
    const h = await open();
    try {
      await body(h.store);
    } finally {
      await h.store.close();
      await h.dispose();
    }
  };

  describe(`MetadataStore contract: ${name}`, () => {
    it('starts empty', () => withStore(async (s) => {
      assert.deepEqual(await s.listModels(), []);
      assert.equal(await s.getModel('m'), undefined);
      assert.equal(await s.getVersion('m', 1), undefined);
      assert.deepEqual(await s.listVersions('m'), []);
    }));

    it('numbers versions from 1 per model, in order', () => withStore(async (s) => {
      assert.equal((await s.addVersion(newVersion('a', 1))).version, 1);
      assert.equal((await s.addVersion(newVersion('a', 2))).version, 2);
      assert.equal((await s.addVersion(newVersion('b', 3))).version, 1, 'each model counts on its own');
      assert.equal((await s.addVersion(newVersion('a', 4))).version, 3);
      assert.deepEqual((await s.listVersions('a')).map((v) => [v.version, v.artifactKey]), [[1, 'models/a/1.onnx'], [2, 'models/a/2.onnx'], [3, 'models/a/4.onnx']]);
    }));

    it('never reuses a version number after a deletion, even of the whole model', () => withStore(async (s) => {
      await s.addVersion(newVersion('m', 1));
      await s.addVersion(newVersion('m', 2));
      assert.equal(await s.deleteVersion('m', 2), true);
      assert.equal((await s.addVersion(newVersion('m', 3))).version, 3, 'the deleted highest number is not handed out again');
      await s.deleteVersion('m', 1);
      await s.deleteVersion('m', 3);
      assert.equal(await s.getModel('m'), undefined);
      const back = await s.addVersion(newVersion('m', 4));
      assert.equal(back.version, 4, '"m version 1" must keep meaning the bytes it once meant');
      assert.deepEqual((await s.getModel('m'))?.versions, [4]);
    }));

    it('summarizes models: sorted by name, with versions, latest version and aliases', () => withStore(async (s) => {
      await s.addVersion(newVersion('zeta', 1));
      const first = await s.addVersion(newVersion('alpha', 2));
      await s.addVersion(newVersion('alpha', 3));
      await s.setAlias('alpha', 'prod', 1);
      const models = await s.listModels();
      assert.deepEqual(models.map((m) => m.name), ['alpha', 'zeta']);
      const alpha = await s.getModel('alpha');
      assert.deepEqual(alpha && { versions: alpha.versions, latestVersion: alpha.latestVersion, aliases: alpha.aliases },
        { versions: [1, 2], latestVersion: 2, aliases: { prod: 1 } });
      assert.equal(alpha?.createdAt, first.createdAt, 'a model is created with its first version');
      assert.ok(!Number.isNaN(Date.parse(alpha!.createdAt)), 'createdAt is an ISO-8601 time');
    }));

    it('round-trips a record: signature, config, metadata and file facts', () => withStore(async (s) => {
      const v = newVersion('m', 7, {
        sizeBytes: 123_456_789,
        signature: {
          inputs: [{ name: 'image', dtype: 'FP32', shape: [-1, 3, -1, -1] }, { name: 'ids', dtype: 'INT64', shape: [] }],
          outputs: [{ name: 'text', dtype: 'BYTES', shape: [-1] }],
        },
        config: { maxBatchSize: 8, preferredBatchSizes: [4, 8], description: 'ünïcode ✓' },
        metadata: { source: 'npm:x', nested: { list: [1, 'two', null], flag: true } },
      });
      const added = await s.addVersion(v);
      const got = await s.getVersion('m', 1);
      assert.deepEqual(got, added);
      assert.deepEqual(got, { ...v, version: 1, createdAt: added.createdAt });
      assert.deepEqual(await s.listVersions('m'), [added]);
    }));

    it('sets, moves and deletes aliases', () => withStore(async (s) => {
      await s.addVersion(newVersion('m', 1));
      await s.addVersion(newVersion('m', 2));
      await s.setAlias('m', 'prod', 1);
      await s.setAlias('m', 'canary', 2);
      assert.deepEqual((await s.getModel('m'))?.aliases, { canary: 2, prod: 1 });
      await s.setAlias('m', 'prod', 2);
      assert.deepEqual((await s.getModel('m'))?.aliases, { canary: 2, prod: 2 }, 'setting an existing alias moves it');
      assert.equal(await s.deleteAlias('m', 'canary'), true);
      assert.equal(await s.deleteAlias('m', 'canary'), false, 'deleting a missing alias reports false');
      assert.deepEqual((await s.getModel('m'))?.aliases, { prod: 2 });
    }));

    it('refuses an alias to a version that does not exist', () => withStore(async (s) => {
      await s.addVersion(newVersion('m', 1));
      await assert.rejects(s.setAlias('m', 'prod', 5));
      await assert.rejects(s.setAlias('nope', 'prod', 1));
      assert.deepEqual((await s.getModel('m'))?.aliases, {});
    }));

    it('deleting a version removes the aliases that point at it, and only those', () => withStore(async (s) => {
      await s.addVersion(newVersion('m', 1));
      await s.addVersion(newVersion('m', 2));
      await s.setAlias('m', 'prod', 1);
      await s.setAlias('m', 'stable', 1);
      await s.setAlias('m', 'canary', 2);
      assert.equal(await s.deleteVersion('m', 1), true);
      assert.equal(await s.getVersion('m', 1), undefined);
      const m = await s.getModel('m');
      assert.deepEqual([m?.versions, m?.latestVersion, m?.aliases], [[2], 2, { canary: 2 }]);
      assert.equal(await s.deleteVersion('m', 1), false, 'deleting it again reports false');
      assert.equal(await s.deleteVersion('other', 1), false);
    }));

    it('a model disappears with its last version, and comes back with its aliases gone', () => withStore(async (s) => {
      await s.addVersion(newVersion('m', 1));
      await s.addVersion(newVersion('keep', 1));
      await s.setAlias('m', 'prod', 1);
      await s.deleteVersion('m', 1);
      assert.equal(await s.getModel('m'), undefined);
      assert.deepEqual((await s.listModels()).map((m) => m.name), ['keep']);
      assert.deepEqual(await s.listVersions('m'), []);
      await s.addVersion(newVersion('m', 2));
      assert.deepEqual((await s.getModel('m'))?.aliases, {}, 'an alias of the old model does not come back');
    }));

    it('gives distinct numbers to versions added at the same time', () => withStore(async (s) => {
      const added = await Promise.all(Array.from({ length: 10 }, (_, i) => s.addVersion(newVersion('m', i))));
      assert.deepEqual(added.map((v) => v.version).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    }));
  });
}
