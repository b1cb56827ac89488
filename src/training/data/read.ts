// File access for the dataset readers. A dataset path usually comes from a user's training spec, so
// a missing file is their mistake to fix (INVALID_ARGUMENT with the resolved path), not a 500.
import type { Dirent } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { invalid } from '../../core/errors.js';

/** Reads a whole file; `what` names its role in the spec, e.g. 'images file'. */
export async function readBytes(file: string, what: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (e) {
    throw unreadable(e, file, what, 'file');
  }
}

export async function readText(file: string, what: string): Promise<string> {
  // A byte-order mark (Excel writes one) would otherwise end up in the first header name.
  return (await readBytes(file, what)).toString('utf8').replace(/^\uFEFF/, '');
}

export async function listDir(dir: string, what: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (e) {
    throw unreadable(e, dir, what, 'folder');
  }
}

function unreadable(e: unknown, file: string, what: string, kind: 'file' | 'folder'): Error {
  const code = (e as NodeJS.ErrnoException).code;
  const hint = `send the path of an existing ${kind} (relative paths resolve against the base directory)`;
  if (code === 'ENOENT') return invalid(`${what} ${file} does not exist; ${hint}`);
  if (code === 'EISDIR') return invalid(`${what} ${file} is a folder, not a file; ${hint}`);
  if (code === 'ENOTDIR') return invalid(`${what} ${file} is not a folder; ${hint}`);
  return invalid(`cannot read ${what} ${file}: ${(e as Error).message}`);
}
