// A small tar reader for uploads: ustar, GNU long names ('L') and pax headers ('x', path and size),
// regular files and directories only. An uploaded archive comes from anyone the admin scope admits
// and its paths may later name files, so it refuses rather than guesses: links, devices, absolute
// paths, '..' components, duplicate paths, bad header checksums and archives cut short are errors.
//
//   const files = tarFiles(readTar(maybeGunzip(body, 64 << 20)));
//   files.get('config.json');  // the bytes of mymodel/config.json in a tar of mymodel/
import { gunzipSync } from 'node:zlib';
import { FerryError } from './errors.js';

export interface TarEntry {
  /** relative, '/'-separated, without '.' or empty components */
  readonly path: string;
  readonly type: 'file' | 'directory';
  /** the file's bytes (a view into the archive); empty for a directory */
  readonly data: Uint8Array;
}

const BLOCK = 512;
const bad = (msg: string) => new FerryError('INVALID_ARGUMENT', `the tar archive ${msg}`);
const latin1 = new TextDecoder('latin1');
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A NUL-terminated header field as text. Names are UTF-8 in practice (GNU tar and bsdtar write them so). */
function text(block: Uint8Array, start: number, length: number): string {
  const field = block.subarray(start, start + length);
  const end = field.indexOf(0);
  const bytes = end < 0 ? field : field.subarray(0, end);
  try {
    return utf8.decode(bytes);
  } catch {
    return latin1.decode(bytes);
  }
}

/** Octal, or GNU's base-256 (high bit set) that sizes of 8 GiB and more need. */
function number(block: Uint8Array, start: number, length: number, what: string): number {
  const field = block.subarray(start, start + length);
  let n = 0;
  if (field[0]! & 0x80) {
    n = field[0]! & 0x7f;
    for (let i = 1; i < length; i++) n = n * 256 + field[i]!;
  } else {
    const s = latin1.decode(field).replace(/\0.*$/s, '').trim();
    if (s === '') return 0;
    if (!/^[0-7]+$/.test(s)) throw bad(`has a header whose ${what} field is not an octal number (${JSON.stringify(s.slice(0, 20))}); it is not a tar file or it is damaged`);
    n = parseInt(s, 8);
  }
  if (!Number.isSafeInteger(n)) throw bad(`has a header whose ${what} is out of range`);
  return n;
}

/** The header checksum counts the checksum field as eight spaces; old writers summed signed bytes. */
function checksumOk(block: Uint8Array): boolean {
  let stored: number;
  try {
    stored = number(block, 148, 8, 'checksum');
  } catch {
    return false;
  }
  let unsigned = 0, signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return stored === unsigned || stored === signed;
}

/** pax records: "<length> <key>=<value>\n", the length counting the whole record. */
function paxRecords(data: Uint8Array): Map<string, string> {
  const out = new Map<string, string>();
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    const length = space < 0 ? NaN : Number(latin1.decode(data.subarray(pos, space)));
    if (!Number.isSafeInteger(length) || length <= space - pos || pos + length > data.length || data[pos + length - 1] !== 0x0a) {
      throw bad('has a malformed pax extended header');
    }
    const record = new TextDecoder('utf-8').decode(data.subarray(space + 1, pos + length - 1));
    const eq = record.indexOf('=');
    if (eq <= 0) throw bad('has a malformed pax extended header');
    out.set(record.slice(0, eq), record.slice(eq + 1));
    pos += length;
  }
  return out;
}

/** A path the archive names, made relative and checked: nothing in it may point outside the archive. */
function cleanPath(raw: string): string {
  const shown = JSON.stringify(raw.slice(0, 200));
  if (raw.includes('\0')) throw bad(`names a path with a NUL character: ${shown}`);
  if (raw.startsWith('/') || /^[A-Za-z]:/.test(raw) || raw.includes('\\')) {
    throw bad(`names an absolute or non-POSIX path ${shown}; archive the folder with relative paths, e.g. tar -cf model.tar -C parent mymodel`);
  }
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw bad(`names a path with a '..' component: ${shown}; paths must stay inside the archive`);
  return parts.join('/');
}

const REFUSED: Readonly<Record<string, string>> = {
  '1': 'a hard link', '2': 'a symbolic link', '3': 'a character device', '4': 'a block device', '6': 'a FIFO',
  S: 'a GNU sparse file', V: 'a volume label', M: 'a multi-volume continuation',
};

/** Every file and directory in a tar archive, in archive order. */
export function readTar(bytes: Uint8Array): TarEntry[] {
  const entries: TarEntry[] = [];
  const seen = new Set<string>();
  let pos = 0;
  // what a GNU 'L' or pax 'x' header says about the entry after it
  let longName: string | undefined;
  let pax = new Map<string, string>();
  for (;;) {
    const pending = longName !== undefined || pax.size > 0;
    if (pos + BLOCK > bytes.length) {
      throw bad(pos < bytes.length ? 'ends in the middle of a header; the upload looks truncated'
        : pending ? 'ends right after an extended header, without the entry it describes; the upload looks truncated'
          : 'ends without its end-of-archive blocks; the upload looks truncated');
    }
    const block = bytes.subarray(pos, pos + BLOCK);
    if (block.every((b) => b === 0)) {
      // One zero block ends the archive (two are standard; some writers stop at one).
      if (pending) throw bad('ends right after an extended header, without the entry it describes');
      return entries;
    }
    if (!checksumOk(block)) {
      throw bad(`has a header at byte ${pos} whose checksum does not match; it is not a tar file or it is damaged${pos === 0 ? ' (send an uncompressed or gzip-compressed tar)' : ''}`);
    }
    const type = String.fromCharCode(block[156]!);
    const paxSize = pax.get('size');
    const size = paxSize !== undefined && /^\d+$/.test(paxSize) ? Number(paxSize) : number(block, 124, 12, 'size');
    const dataStart = pos + BLOCK;
    if (!Number.isSafeInteger(size) || dataStart + size > bytes.length) throw bad('ends in the middle of a file; the upload looks truncated');
    const data = bytes.subarray(dataStart, dataStart + size);
    pos = dataStart + Math.ceil(size / BLOCK) * BLOCK;

    if (type === 'L') {
      longName = text(data, 0, data.length);
      continue;
    }
    if (type === 'x') {
      pax = new Map([...pax, ...paxRecords(data)]);
      continue;
    }
    if (type === 'K' || type === 'g') continue; // a long link target (its link is refused next), global pax defaults
    // ustar splits long names into prefix/name; GNU's "ustar  " magic uses the prefix area for other fields
    const ustar = latin1.decode(block.subarray(257, 263)) === 'ustar\0';
    const prefix = ustar ? text(block, 345, 155) : '';
    const headerName = prefix ? `${prefix}/${text(block, 0, 100)}` : text(block, 0, 100);
    const raw = pax.get('path') ?? longName ?? headerName;
    longName = undefined;
    pax = new Map();

    const refused = REFUSED[type];
    if (refused) {
      // Hugging Face's cache keeps snapshots as symlinks to blobs, so a tar of one needs the targets.
      const hint = { '1': '; archive copies with tar --hard-dereference', '2': '; archive what it points at with tar --dereference (-h)' }[type] ?? '';
      throw bad(`holds ${refused}, ${JSON.stringify(raw.slice(0, 200))}; only regular files and folders are accepted${hint}`);
    }
    const isDir = type === '5';
    if (!isDir && type !== '0' && type !== '\0' && type !== '7') throw bad(`holds an entry of unknown type ${JSON.stringify(type)} (${JSON.stringify(raw.slice(0, 200))}); only regular files and folders are accepted`);
    const p = cleanPath(raw);
    if (p === '') {
      if (isDir) continue; // "./" itself
      throw bad(`holds a file with an empty name`);
    }
    if (seen.has(p)) throw bad(`holds ${JSON.stringify(p)} twice; send each file once`);
    seen.add(p);
    entries.push({ path: p, type: isDir ? 'directory' : 'file', data: isDir ? new Uint8Array(0) : data });
  }
}

/**
 * The archive's files by path. When every entry sits in one top-level folder (a tar of `mymodel/`),
 * paths are relative to that folder, so `tar -cf m.tar mymodel` and `tar -cf m.tar -C mymodel .`
 * read the same.
 */
export function tarFiles(entries: readonly TarEntry[]): Map<string, Uint8Array> {
  const tops = new Set(entries.map((e) => e.path.split('/')[0]!));
  const [top] = tops;
  const inFolder = tops.size === 1 && entries.every((e) => e.path !== top || e.type === 'directory');
  const files = new Map<string, Uint8Array>();
  for (const e of entries) {
    if (e.type !== 'file') continue;
    files.set(inFolder ? e.path.slice(top!.length + 1) : e.path, e.data);
  }
  return files;
}

/** Unpacks a gzip stream (magic 1f 8b) and passes anything else through; at most maxBytes come out. */
export function maybeGunzip(bytes: Uint8Array, maxBytes: number): Uint8Array {
  if (!(bytes[0] === 0x1f && bytes[1] === 0x8b)) return bytes;
  try {
    return gunzipSync(bytes, { maxOutputLength: maxBytes });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new FerryError('PAYLOAD_TOO_LARGE', `the archive unpacks to more than the limit of ${maxBytes} bytes; raise maxUploadBytes in the server config`);
    }
    throw new FerryError('INVALID_ARGUMENT', `the gzip stream is damaged or cut short (${(err as Error).message}); send the whole .tar.gz or an uncompressed tar`);
  }
}
