// Checkpoints: everything a run needs to continue exactly where it stopped — parameters, optimizer
// state, the epoch and step reached, the random generator's state and the metrics so far. Written
// atomically (a temporary file, fsync, rename) so a kill at any moment leaves either the previous
// checkpoint or the new one, never half of one.
//
// Layout: 4-byte little-endian header length, a JSON header, then each tensor's float32 bytes in
// the header's order.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { EpochMetrics } from './record.js';

export interface Checkpoint {
  /** epochs completed */
  readonly epoch: number;
  /** optimizer steps taken */
  readonly step: number;
  readonly rng: readonly number[];
  readonly history: readonly EpochMetrics[];
  /** training seconds spent before this checkpoint */
  readonly seconds: number;
  /** parameters and optimizer state, by name */
  readonly tensors: ReadonlyMap<string, Float32Array>;
}

export function writeCheckpoint(file: string, c: Checkpoint): void {
  const entries = [...c.tensors.entries()];
  const header = Buffer.from(JSON.stringify({
    version: 1, epoch: c.epoch, step: c.step, rng: c.rng, history: c.history, seconds: c.seconds,
    tensors: entries.map(([name, t]) => [name, t.length]),
  }));
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(header.length);
    writeSync(fd, len);
    writeSync(fd, header);
    for (const [, t] of entries) writeSync(fd, new Uint8Array(t.buffer, t.byteOffset, t.byteLength));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  // the rename itself is durable only once the folder is synced (a power cut, not just a kill)
  const dir = openSync(path.dirname(file), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

/** The checkpoint in `file`, or undefined when there is none. A file that cannot be read whole
 *  throws CheckpointError: the caller decides whether to start over. */
export function readCheckpoint(file: string): Checkpoint | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return parse(readFileSync(file), file);
  } catch (err) {
    throw new CheckpointError(`checkpoint ${file} is unreadable: ${(err as Error).message}`);
  }
}

export class CheckpointError extends Error {}

function parse(buf: Buffer, file: string): Checkpoint {
  const hlen = buf.readUInt32LE(0);
  const h = JSON.parse(buf.subarray(4, 4 + hlen).toString('utf8')) as {
    epoch: number; step: number; rng: number[]; history: EpochMetrics[]; seconds: number; tensors: [string, number][];
  };
  let off = 4 + hlen;
  const tensors = new Map<string, Float32Array>();
  for (const [name, n] of h.tensors) {
    tensors.set(name, new Float32Array(buf.buffer.slice(buf.byteOffset + off, buf.byteOffset + off + n * 4)));
    off += n * 4;
  }
  if (off !== buf.length) throw new Error(`checkpoint ${file} is ${buf.length} bytes, its header describes ${off}`);
  return { epoch: h.epoch, step: h.step, rng: h.rng, history: h.history, seconds: h.seconds, tensors };
}
