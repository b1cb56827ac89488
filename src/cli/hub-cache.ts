// The layout of `ferry models pull`'s download cache, and the lock two pulls of one model take on it.
//
//   DIR/ORG/NAME/<commit sha>/<files>      one folder per commit: its files never change once there
//   DIR/ORG/NAME/refs/<revision>           the commit a branch or tag name pointed to at its last pull
//   DIR/ORG/NAME/unpinned/<revision>/      for a hub that names no commit: re-checked on every pull
//
// A commit folder's name is 40 hex digits, so it cannot collide with `refs` or `unpinned`.
import { closeSync, existsSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import type { HubRef } from './hub.js';

export const COMMIT_SHA = /^[0-9a-f]{40}$/;

const safe = (revision: string) => encodeURIComponent(revision);

export function repoCacheDir(cacheRoot: string, ref: HubRef): string {
  return path.join(cacheRoot, ref.org, ref.name);
}

export function commitDir(repoDir: string, sha: string): string {
  if (!COMMIT_SHA.test(sha)) throw new Error(`${JSON.stringify(sha)} is not a commit sha`);
  return path.join(repoDir, sha);
}

export function unpinnedDir(repoDir: string, revision: string): string {
  return path.join(repoDir, 'unpinned', safe(revision));
}

/** The commit `revision` pointed to when it was last pulled in full, if it ever was. */
export function readRef(repoDir: string, revision: string): string | undefined {
  try {
    const sha = readFileSync(path.join(repoDir, 'refs', safe(revision)), 'utf8').trim();
    return COMMIT_SHA.test(sha) ? sha : undefined;
  } catch {
    return undefined;
  }
}

/** Written whole or not at all (a temporary file renamed over it), so a concurrent reader never sees half. */
export function writeRef(repoDir: string, revision: string, sha: string): void {
  const file = path.join(repoDir, 'refs', safe(revision));
  mkdirSync(path.dirname(file), { recursive: true });
  writeAtomically(file, `${sha}\n`);
}

/** For an unpinned revision: the hub's ETag of each file as it was downloaded. */
const ETAGS = '.etags.json';

export function readEtags(dir: string): Record<string, string> {
  try {
    const raw = JSON.parse(readFileSync(path.join(dir, ETAGS), 'utf8')) as unknown;
    return raw !== null && typeof raw === 'object' ? (raw as Record<string, string>) : {};
  } catch {
    return {};
  }
}

/** Only under the folder's lock: a read, a change and a write. */
export function writeEtag(dir: string, file: string, etag: string | undefined): void {
  const etags = readEtags(dir);
  if (etag === undefined) delete etags[file];
  else etags[file] = etag;
  writeAtomically(path.join(dir, ETAGS), `${JSON.stringify(etags, null, 2)}\n`);
}

export function hasAll(dir: string, files: readonly string[]): boolean {
  return files.every((f) => existsSync(path.join(dir, f)));
}

function writeAtomically(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

// Two pulls of one model at once (two terminals) share a folder. They take a lock on it rather than
// downloading to a .part file each and renaming the winner into place: with a .part per process both
// would fetch the whole model, and a later run could no longer tell which leftover .part to resume
// from; with one lock the second pull waits, then finds every file in place and verified, and the
// single `file.part` stays the one to resume. The lock is a file holding "pid@host", created whole
// with link() (which fails if the lock exists), so no reader ever sees it empty. One whose pid is gone
// on this host is stale (the pull was killed) and is removed; one from another host sharing the cache
// cannot be checked, and is waited for.

const LOCK = '.lock';
const POLL_MS = 100;
/** A breaker holds `.lock.break` for three system calls; one older than this was left by a crash. */
const BREAK_STALE_MS = 10_000;

export interface FolderLock { readonly file: string; release(): void }

/** Takes `dir`'s lock, waiting while a live process holds it; `onWait` is told once, with the holder. */
export async function lockFolder(dir: string, onWait: (holder: string, lockFile: string) => void): Promise<FolderLock> {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, LOCK), me = `${process.pid}@${hostname()}`;
  let told = false;
  for (;;) {
    if (createWhole(file, me)) {
      return { file, release: () => (readHolder(file) === me ? rmSync(file, { force: true }) : undefined) };
    }
    const holder = readHolder(file);
    if (holder === undefined) continue; // released between the two calls
    if (isDead(holder) && breakStale(file, holder)) continue;
    if (!told) onWait(holder, file);
    told = true;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** Creates `file` with `text` in it, atomically, unless it exists. */
function createWhole(file: string, text: string): boolean {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    rmSync(tmp, { force: true });
  }
}

function readHolder(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function isDead(holder: string): boolean {
  const m = /^(\d+)@(.*)$/.exec(holder);
  if (!m) return false;
  const pid = Number(m[1]);
  if (m[2] !== hostname()) return false;
  // this process holds no lock on the folder yet, so its own pid there is a dead pull's, reused
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Removes a dead pull's lock. Two waiters can both see it dead; if both simply deleted it, the second
 * could delete the lock the first has just taken. So removing is itself done under `.lock.break`, and
 * only while the lock still holds the dead pull's "pid@host".
 */
function breakStale(file: string, dead: string): boolean {
  const breaker = `${file}.break`;
  if (!createWhole(breaker, `${process.pid}@${hostname()}`)) {
    try {
      if (Date.now() - statSync(breaker).mtimeMs > BREAK_STALE_MS) rmSync(breaker, { force: true });
    } catch {
      // gone already
    }
    return false; // another waiter is breaking it: wait a moment
  }
  try {
    if (readHolder(file) === dead) rmSync(file, { force: true });
  } finally {
    rmSync(breaker, { force: true });
  }
  return true;
}
