// The tar reader against archives GNU tar itself writes (gnu, pax and ustar formats, gzip), and
// against what an upload must not get through: links, paths that leave the archive, damaged headers
// and archives cut short.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { FerryError } from '../../src/core/errors.js';
import { maybeGunzip, readTar, tarFiles } from '../../src/core/tar.js';
import { tempDir } from '../helpers/server.js';

const LONG = `${'deeply-nested-folder-name/'.repeat(3)}${'a-file-name-that-is-long'.repeat(3)}.json`; // 150 characters

describe('tar reader', () => {
  const dir = tempDir('ferry-tar-');
  after(() => rmSync(dir, { recursive: true, force: true }));
  const model = path.join(dir, 'mymodel');
  mkdirSync(path.join(model, 'onnx'), { recursive: true });
  mkdirSync(path.join(model, path.dirname(LONG)), { recursive: true });
  writeFileSync(path.join(model, 'config.json'), '{"model_type":"bert"}');
  writeFileSync(path.join(model, 'onnx', 'model.onnx'), Buffer.alloc(1500, 7)); // spans three blocks
  writeFileSync(path.join(model, LONG), 'long');
  writeFileSync(path.join(model, 'empty.txt'), '');

  /** GNU tar's archive of `what` inside `cwd`, as bytes */
  const tar = (args: string[], cwd = dir): Uint8Array => {
    const out = path.join(dir, `out-${Math.random().toString(36).slice(2)}.tar`);
    execFileSync('tar', ['-cf', out, ...args], { cwd });
    return new Uint8Array(readFileSync(out));
  };
  const refuses = (bytes: Uint8Array, message: RegExp) =>
    assert.throws(() => readTar(bytes), (e: unknown) => e instanceof FerryError && e.code === 'INVALID_ARGUMENT' && message.test(e.message));

  for (const format of ['gnu', 'pax', 'ustar']) {
    it(`reads GNU tar's ${format} format, a name over 100 characters included, relative to the one top folder`, () => {
      const archive = tar([`--format=${format}`, 'mymodel']);
      // the long name takes each format's own route: a GNU 'L' entry, a pax path record, ustar's prefix field
      const marker = { gnu: '././@LongLink', pax: `path=mymodel/${LONG}`, ustar: `mymodel/${path.dirname(LONG)}` }[format]!;
      assert.ok(Buffer.from(archive).includes(marker), marker);
      const entries = readTar(archive);
      assert.ok(entries.some((e) => e.path === 'mymodel/onnx' && e.type === 'directory'));
      const files = tarFiles(entries);
      assert.deepEqual([...files.keys()].sort(), ['config.json', 'empty.txt', LONG, 'onnx/model.onnx'].sort());
      assert.equal(Buffer.from(files.get('config.json')!).toString(), '{"model_type":"bert"}');
      assert.deepEqual(files.get('onnx/model.onnx'), new Uint8Array(1500).fill(7));
      assert.equal(Buffer.from(files.get(LONG)!).toString(), 'long');
      assert.equal(files.get('empty.txt')!.length, 0);
    });
  }

  it('reads a tar of the folder\'s contents ("./config.json") the same, and keeps paths when there are several top folders', () => {
    const files = tarFiles(readTar(tar(['-C', model, '.'])));
    assert.deepEqual([...files.keys()].sort(), ['config.json', 'empty.txt', LONG, 'onnx/model.onnx'].sort());
    const two = tarFiles(readTar(tar(['-C', model, 'config.json', 'onnx'])));
    assert.deepEqual([...two.keys()].sort(), ['config.json', 'onnx/model.onnx']);
  });

  it('unpacks a .tar.gz, within a byte limit', () => {
    const out = path.join(dir, 'm.tar.gz');
    execFileSync('tar', ['-czf', out, 'mymodel'], { cwd: dir });
    const gz = new Uint8Array(readFileSync(out));
    assert.equal(tarFiles(readTar(maybeGunzip(gz, 1 << 20))).get('config.json')!.length, 21);
    assert.throws(() => maybeGunzip(gz, 1000), (e: unknown) => e instanceof FerryError && e.code === 'PAYLOAD_TOO_LARGE' && /unpacks to more than the limit of 1000 bytes/.test(e.message));
    assert.throws(() => maybeGunzip(gz.subarray(0, gz.length - 20), 1 << 20), /gzip stream is damaged or cut short/);
    const plain = tar(['mymodel']);
    assert.equal(maybeGunzip(plain, 10), plain, 'a plain tar passes through');
  });

  it('refuses symbolic links, hard links and devices', () => {
    symlinkSync('config.json', path.join(model, 'link.json'));
    try {
      refuses(tar(['mymodel']), /holds a symbolic link, "mymodel\/link\.json"; only regular files and folders/);
    } finally {
      rmSync(path.join(model, 'link.json'));
    }
    refuses(tar(['mymodel/config.json', 'mymodel/config.json']), /holds a hard link/);
    const device = Buffer.from(tar(['mymodel/config.json']));
    device[156] = '3'.charCodeAt(0);
    fixChecksum(device, 0);
    refuses(device, /holds a character device/);
  });

  it('refuses absolute paths, ".." components and a path given twice', () => {
    refuses(tar(['--transform', 's,^,../,', 'mymodel/config.json']), /'\.\.' component: "\.\.\/mymodel\/config\.json"/);
    refuses(tar(['-P', path.join(model, 'config.json')]), /names an absolute or non-POSIX path/);
    // a pax path overrides the header's name, so it is checked the same
    refuses(tar(['--format=pax', '--transform', 's,^,a/../../,', 'mymodel/config.json']), /'\.\.' component/);
    const twice = path.join(dir, 'twice.tar');
    execFileSync('tar', ['-cf', twice, 'mymodel/config.json'], { cwd: dir });
    execFileSync('tar', ['-rf', twice, 'mymodel/config.json'], { cwd: dir });
    refuses(new Uint8Array(readFileSync(twice)), /holds "mymodel\/config\.json" twice/);
  });

  it('refuses archives cut short, damaged headers and bytes that are no tar at all', () => {
    const whole = tar(['mymodel/onnx/model.onnx']); // one header, then 1500 bytes of data from byte 512
    refuses(whole.subarray(0, 100), /ends in the middle of a header; the upload looks truncated/);
    refuses(whole.subarray(0, 1000), /ends in the middle of a file; the upload looks truncated/);
    refuses(tar(['--format=pax', 'mymodel/' + LONG]).subarray(0, 1024), /ends right after an extended header, without the entry it describes; the upload looks truncated/);
    // cut exactly after the last file's data, where only the end-of-archive blocks are missing
    refuses(whole.subarray(0, 512 + Math.ceil(1500 / 512) * 512), /ends without its end-of-archive blocks/);
    const damaged = Buffer.from(whole);
    damaged[5] = damaged[5]! ^ 1;
    refuses(damaged, /header at byte 0 whose checksum does not match/);
    refuses(new TextEncoder().encode(`${JSON.stringify({ not: 'a tar' }).padEnd(600)}`), /checksum does not match; it is not a tar file/);
    refuses(new Uint8Array(0), /ends without its end-of-archive blocks/);
  });
});

/** Rewrites a header's checksum after a test changed the header on purpose. */
function fixChecksum(archive: Buffer, at: number): void {
  archive.fill(0x20, at + 148, at + 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += archive[at + i]!;
  archive.write(`${sum.toString(8).padStart(6, '0')}\0 `, at + 148, 'latin1');
}
