// Small helpers the registry suites share: byte streams as uploads arrive, and a look at every file a
// store left on disk.
import { readdir } from 'node:fs/promises';
import path from 'node:path';

/** Yields `bytes` in chunks of `size`; with `failAfter`, throws after that many chunks, like a cut-off upload. */
export async function* chunks(bytes: Uint8Array, size = 1000, failAfter?: number): AsyncGenerator<Uint8Array> {
  for (let i = 0, n = 0; i < bytes.length; i += size, n++) {
    if (n === failAfter) throw new Error('connection reset by peer');
    yield bytes.subarray(i, i + size);
  }
}

/** Every file under `root` as sorted relative paths, hidden folders (staging) included; [] if root is absent. */
export async function filesUnder(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => path.relative(root, path.join(e.parentPath, e.name)).split(path.sep).join('/')).sort();
}
