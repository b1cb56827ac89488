// Where the files of a Hugging Face model folder come from: a folder on disk (`ferry models push DIR`,
// `ferry models pull`) or the files of a tar uploaded to the admin API. Packing reads both through
// this one interface, so both get the same checks and the same messages.
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { FerryError } from '../core/errors.js';

export interface ModelFiles {
  /** how messages name the folder: its path on disk, or "the archive" */
  readonly label: string;
  /** whether the folder holds this file ('/'-separated, relative to the folder) */
  has(file: string): boolean;
  /** the file's bytes, or undefined when the folder does not hold it */
  read(file: string): Uint8Array | undefined;
}

export function folderFiles(dir: string): ModelFiles {
  const at = (file: string) => path.join(dir, ...file.split('/'));
  const has = (file: string) => existsSync(at(file)) && statSync(at(file)).isFile();
  return {
    label: dir,
    has,
    read: (file) => (has(file) ? new Uint8Array(readFileSync(at(file))) : undefined),
  };
}

/** Files already in memory, e.g. tarFiles() of an upload. */
export function memoryFiles(files: ReadonlyMap<string, Uint8Array>, label = 'the archive'): ModelFiles {
  return { label, has: (file) => files.has(file), read: (file) => files.get(file) };
}

/** A JSON file of the folder, parsed; undefined when the folder does not hold it. */
export function readJson(files: ModelFiles, file: string): unknown {
  const bytes = files.read(file);
  if (bytes === undefined) return undefined;
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (err) {
    throw new FerryError('INVALID_ARGUMENT', `${file} is not valid JSON: ${(err as Error).message}`);
  }
}
