// Shared by the dataset tests: a temporary folder per suite and an IDX writer (Ferry only reads IDX).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A fresh folder under the OS temp dir, and a function that removes it. */
export function scratch(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), `ferry-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

const CODES = { ubyte: [0x08, 1], byte: [0x09, 1], short: [0x0b, 2], int: [0x0c, 4], float: [0x0d, 4], double: [0x0e, 8] } as const;

/** The bytes of an IDX file: magic 00 00 dtype rank, big-endian dims, big-endian values. */
export function idxBytes(dtype: keyof typeof CODES, dims: readonly number[], values: ArrayLike<number>): Buffer {
  const [code, size] = CODES[dtype];
  const buf = Buffer.alloc(4 + 4 * dims.length + values.length * size);
  buf[2] = code;
  buf[3] = dims.length;
  dims.forEach((d, i) => buf.writeUInt32BE(d, 4 + 4 * i));
  const at = (i: number) => 4 + 4 * dims.length + i * size;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (dtype === 'ubyte') buf.writeUInt8(v, at(i));
    else if (dtype === 'byte') buf.writeInt8(v, at(i));
    else if (dtype === 'short') buf.writeInt16BE(v, at(i));
    else if (dtype === 'int') buf.writeInt32BE(v, at(i));
    else if (dtype === 'float') buf.writeFloatBE(v, at(i));
    else buf.writeDoubleBE(v, at(i));
  }
  return buf;
}
