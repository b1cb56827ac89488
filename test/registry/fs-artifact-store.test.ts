import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { FsArtifactStore } from '../../src/registry/fs/fs-artifact-store.js';
import { tempDir } from '../helpers/server.js';
import { artifactStoreContract } from './artifact-store.contract.js';
import { chunks, filesUnder } from './support.js';

artifactStoreContract('FsArtifactStore', async () => {
  const dir = tempDir('ferry-artifacts-');
  // A root that does not exist yet: the server creates it on first use.
  const root = path.join(dir, 'artifacts');
  return {
    store: new FsArtifactStore(root),
    reopen: () => new FsArtifactStore(root),
    files: () => filesUnder(root),
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
});

describe('FsArtifactStore', () => {
  it('keeps artifacts under <root>/<key> and staging files under <root>/.staging', async () => {
    const root = tempDir('ferry-artifacts-');
    try {
      const store = new FsArtifactStore(root);
      const staged = await store.stage(chunks(new Uint8Array([1, 2, 3])), 10);
      assert.equal(path.dirname(staged.path), path.join(root, '.staging'));
      await store.commit(staged, 'models/m/a.onnx');
      assert.equal(await store.localPath('models/m/a.onnx'), path.join(root, 'models', 'm', 'a.onnx'));
      assert.deepEqual(await filesUnder(root), ['models/m/a.onnx']);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('a refused key writes nothing outside the root', async () => {
    const dir = tempDir('ferry-artifacts-');
    try {
      const store = new FsArtifactStore(path.join(dir, 'artifacts'));
      const staged = await store.stage(chunks(new Uint8Array([1])), 10);
      await assert.rejects(store.commit(staged, '../outside.onnx'));
      await store.discard(staged);
      assert.equal(existsSync(path.join(dir, 'outside.onnx')), false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
