// The behaviour every ArtifactStore (src/registry/artifact-store.ts) must have. An implementation's
// test file calls artifactStoreContract with a factory that opens a fresh, empty store:
//
//   artifactStoreContract('FsArtifactStore', async () => {
//     const root = tempDir();
//     return { store: new FsArtifactStore(root), reopen: () => new FsArtifactStore(root), files: () => filesUnder(root), dispose: ... };
//   });
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { FerryError } from '../../src/core/errors.js';
import type { ArtifactStore } from '../../src/registry/artifact-store.js';
import { chunks } from './support.js';

export interface ArtifactStoreHarness {
  readonly store: ArtifactStore;
  /** a second store over the same place, as a restarted server would open it */
  reopen(): ArtifactStore;
  /** every file the store holds anywhere, staging included, so the contract can check that nothing was left */
  files(): Promise<string[]>;
  dispose(): Promise<void>;
}

const bytesOf = (n: number, seed = 1): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

export function artifactStoreContract(name: string, open: () => Promise<ArtifactStoreHarness>): void {
  const withStore = async (body: (h: ArtifactStoreHarness) => Promise<void>): Promise<void> => {
    const h = await open();
    try {
      await body(h);
    } finally {
      await h.dispose();
    }
  };

  describe(`ArtifactStore contract: ${name}`, () => {
    it('stages a stream into a readable local file and reports its size and sha256', () => withStore(async ({ store }) => {
      const data = bytesOf(10_000);
      const staged = await store.stage(chunks(data, 777), 1 << 20);
      assert.equal(staged.sizeBytes, 10_000);
      assert.equal(staged.sha256, sha256(data));
      assert.deepEqual(new Uint8Array(await readFile(staged.path)), data);
      assert.deepEqual(await store.list(), [], 'a staged file is not an artifact yet');
      await store.discard(staged);
    }));

    it('stages an empty stream as an empty file', () => withStore(async ({ store }) => {
      const staged = await store.stage(chunks(new Uint8Array(0)), 100);
      assert.deepEqual([staged.sizeBytes, staged.sha256], [0, sha256(new Uint8Array(0))]);
      await store.discard(staged);
    }));

    it('commits a staged file under a key, then finds, lists and deletes it', () => withStore(async ({ store, files }) => {
      const data = bytesOf(5000);
      const staged = await store.stage(chunks(data), 1 << 20);
      await store.commit(staged, 'models/m/a.onnx');
      assert.equal(existsSync(staged.path), false, 'commit consumes the staged file');
      assert.equal(await store.exists('models/m/a.onnx'), true);
      assert.deepEqual(new Uint8Array(await readFile(await store.localPath('models/m/a.onnx'))), data);
      assert.deepEqual(await store.list(), ['models/m/a.onnx']);
      await store.delete('models/m/a.onnx');
      assert.equal(await store.exists('models/m/a.onnx'), false);
      assert.deepEqual(await store.list(), []);
      assert.deepEqual(await files(), []);
    }));

    it('lists every committed key', () => withStore(async ({ store }) => {
      for (const key of ['models/b/2.onnx', 'models/a/1.onnx', 'models/b/1.onnx']) await store.commit(await store.stage(chunks(bytesOf(10)), 100), key);
      assert.deepEqual((await store.list()).sort(), ['models/a/1.onnx', 'models/b/1.onnx', 'models/b/2.onnx']);
    }));

    it('never overwrites a committed key', () => withStore(async ({ store }) => {
      await store.commit(await store.stage(chunks(bytesOf(10, 1)), 100), 'models/m/a.onnx');
      const other = await store.stage(chunks(bytesOf(10, 2)), 100);
      await assert.rejects(store.commit(other, 'models/m/a.onnx'), (e: FerryError) => e.code === 'ALREADY_EXISTS');
      await store.discard(other);
      assert.deepEqual(new Uint8Array(await readFile(await store.localPath('models/m/a.onnx'))), bytesOf(10, 1));
    }));

    it('discard removes the staged file', () => withStore(async ({ store, files }) => {
      const staged = await store.stage(chunks(bytesOf(100)), 1000);
      await store.discard(staged);
      await store.discard(staged); // twice is harmless: the registry discards in a finally block
      assert.equal(existsSync(staged.path), false);
      assert.deepEqual(await files(), []);
    }));

    it('a stream that fails midway leaves no file anywhere and says the upload did not complete', () => withStore(async ({ store, files }) => {
      await assert.rejects(store.stage(chunks(bytesOf(10_000), 1000, 5), 1 << 20), (e: FerryError) => {
        assert.equal(e.code, 'INVALID_ARGUMENT');
        assert.match(e.message, /did not complete.*connection reset by peer/);
        return true;
      });
      assert.deepEqual(await files(), []);
      assert.deepEqual(await store.list(), []);
    }));

    it('an upload over the limit fails with PAYLOAD_TOO_LARGE and leaves nothing', () => withStore(async ({ store, files }) => {
      await assert.rejects(store.stage(chunks(bytesOf(5000)), 4999), (e: FerryError) => {
        assert.equal(e.code, 'PAYLOAD_TOO_LARGE');
        assert.equal(e.status, 413);
        assert.match(e.message, /4999 bytes/);
        return true;
      });
      assert.deepEqual(await files(), []);
      const exact = await store.stage(chunks(bytesOf(5000)), 5000);
      assert.equal(exact.sizeBytes, 5000, 'exactly the limit is allowed');
      await store.discard(exact);
    }));

    it('localPath of a missing key is NOT_FOUND', () => withStore(async ({ store }) => {
      await assert.rejects(store.localPath('models/m/missing.onnx'), (e: FerryError) => e.code === 'NOT_FOUND');
      assert.equal(await store.exists('models/m/missing.onnx'), false);
      await store.delete('models/m/missing.onnx'); // deleting what is not there is not an error
    }));

    for (const key of ['../escape.onnx', 'models/../../escape.onnx', 'models/m/../../../x', '.staging/x.part', 'models/.hidden', '/etc/passwd', '']) {
      it(`refuses the key ${JSON.stringify(key)}`, () => withStore(async ({ store, files }) => {
        const staged = await store.stage(chunks(bytesOf(10)), 100);
        await assert.rejects(store.commit(staged, key), (e: FerryError) => e.code === 'INVALID_ARGUMENT');
        await assert.rejects(store.localPath(key), (e: FerryError) => e.code === 'INVALID_ARGUMENT');
        await assert.rejects(store.exists(key), (e: FerryError) => e.code === 'INVALID_ARGUMENT');
        await assert.rejects(store.delete(key), (e: FerryError) => e.code === 'INVALID_ARGUMENT');
        await store.discard(staged);
        assert.deepEqual(await files(), []);
      }));
    }

    it('sweepStaging removes what a crashed process left in staging, and keeps committed artifacts', () => withStore(async ({ store, reopen, files }) => {
      await store.commit(await store.stage(chunks(bytesOf(10)), 100), 'models/m/kept.onnx');
      const orphan = await store.stage(chunks(bytesOf(100)), 1000); // the process "crashes" before commit
      const restarted = reopen();
      await restarted.sweepStaging();
      assert.equal(existsSync(orphan.path), false);
      assert.deepEqual(await restarted.list(), ['models/m/kept.onnx']);
      assert.equal((await files()).length, 1);
    }));

    it('sweepStaging leaves an upload this store is still working on', () => withStore(async ({ store }) => {
      const staged = await store.stage(chunks(bytesOf(100)), 1000);
      await store.sweepStaging();
      await store.commit(staged, 'models/m/a.onnx');
      assert.equal(await store.exists('models/m/a.onnx'), true);
    }));
  });
}
