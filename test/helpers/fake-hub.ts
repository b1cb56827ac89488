// A Hugging Face–style hub on loopback for `ferry models pull` tests: it serves model folders in the
// hub's `/{org}/{name}/resolve/{revision}/{file}` layout with the headers the real hub sends (ETag,
// X-Linked-Etag and X-Linked-Size with the sha256 and size, X-Repo-Commit with the commit the revision
// named, X-Error-Code on 404s), answers `/api/models/{org}/{name}/revision/{revision}` with the commit's
// sha, honours Range and HEAD, and redirects LFS files to a second "CDN" server on another port, as the
// hub does with its CDN. Each repo starts with one commit that every name in `revisions` points to;
// `commit()` adds another and moves a branch to it, and old commits stay reachable by their sha.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export interface FakeHubOptions {
  /** 'org/name' → a folder in the Hugging Face layout: the repo's first commit */
  readonly repos: Record<string, string>;
  /** branch and tag names, all at each repo's first commit */
  readonly revisions?: readonly string[];
  /** when set, the hub (not the CDN) answers 401 without `Authorization: Bearer <token>` */
  readonly token?: string;
  /** files sent through the CDN, as the hub does with LFS files */
  readonly lfs?: readonly string[];
  /** the first CDN request for this file gets half its body, then the socket is destroyed */
  readonly dropFirst?: string;
  /** this file is advertised with a sha256 that is not its own */
  readonly wrongSha?: string;
  /** false: no revision API, as on a plain mirror (its path then gets the hub's 404 for unknown paths) */
  readonly revisionApi?: boolean;
  /** false: resolve answers carry no X-Repo-Commit */
  readonly repoCommit?: boolean;
  /** a GET's body (hub or CDN) is sent only once the promise this returns settles */
  readonly hold?: (q: HubRequest) => Promise<void> | undefined;
}

export interface HubRequest {
  readonly server: 'hub' | 'cdn';
  readonly method: string;
  readonly path: string;
  readonly range?: string;
  readonly authorization?: string;
}

export interface FakeHub {
  readonly url: string;
  readonly requests: HubRequest[];
  /** the commit sha `revision` of `repo` names now */
  head(repo: string, revision?: string): string;
  /** adds a commit with the files in `dir` to `repo`, moves `revision` (default main) to it, and returns its sha */
  commit(repo: string, dir: string, revision?: string): string;
  close(): Promise<void>;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface Repo { readonly commits: Map<string, string>; readonly refs: Map<string, string> }

export async function startFakeHub(opts: FakeHubOptions): Promise<FakeHub> {
  const requests: HubRequest[] = [];
  const lfs = new Set(opts.lfs ?? ['onnx/model.onnx']);
  const dropped = new Set<string>();
  let cdnOrigin = '';

  const repos = new Map<string, Repo>();
  const newSha = (repo: string, n: number) => createHash('sha1').update(`${repo}\0commit ${n}`).digest('hex');
  for (const [repo, dir] of Object.entries(opts.repos)) {
    const sha = newSha(repo, 0);
    repos.set(repo, { commits: new Map([[sha, dir]]), refs: new Map((opts.revisions ?? ['main']).map((r) => [r, sha])) });
  }
  /** a branch or tag name, or a commit's sha → the commit */
  const lookup = (r: Repo, revision: string) => r.refs.get(revision) ?? (r.commits.has(revision) ? revision : undefined);

  const advertisedSha = (file: string, body: Buffer) => (file === opts.wrongSha ? sha256(Buffer.from('not this file')) : sha256(body));

  function sendBody(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer, headers: Record<string, string>, dropKey?: string): void {
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const from = m ? Number(m[1]) : 0;
    if (from >= body.length && m) {
      res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
      return;
    }
    const slice = body.subarray(from);
    res.writeHead(m ? 206 : 200, {
      ...headers, 'content-length': String(slice.length), 'content-type': 'application/octet-stream', 'accept-ranges': 'bytes',
      ...(m ? { 'content-range': `bytes ${from}-${body.length - 1}/${body.length}` } : {}),
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    if (dropKey !== undefined && !dropped.has(dropKey)) {
      dropped.add(dropKey);
      res.write(slice.subarray(0, Math.floor(slice.length / 2)), () => req.socket.destroy());
      return;
    }
    res.end(slice);
  }

  const handler = (server: 'hub' | 'cdn') => async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://hub');
    const q: HubRequest = {
      server, method: req.method ?? 'GET', path: url.pathname,
      ...(req.headers.range ? { range: req.headers.range } : {}), ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
    };
    requests.push(q);
    const fail = (status: number, code: string, message: string) => res.writeHead(status, { 'x-error-code': code, 'x-error-message': message, 'content-type': 'text/plain' }).end(message);
    if (q.method === 'GET') await opts.hold?.(q);

    if (server === 'cdn') {
      // /cdn/{org}/{name}/{commit}/{file}: what the hub's redirect points at
      const [, org, name, sha, ...rest] = url.pathname.split('/').slice(1);
      const file = rest.join('/');
      const dir = repos.get(`${org}/${name}`)?.commits.get(sha ?? '');
      if (!dir) return fail(404, 'EntryNotFound', 'no such object');
      const body = readFileSync(path.join(dir, file));
      return sendBody(req, res, body, { etag: `"${sha256(body)}"` }, file === opts.dropFirst ? `${org}/${name}/${file}` : undefined);
    }

    const api = /^\/api\/models\/([^/]+)\/([^/]+)\/revision\/(.+)$/.exec(url.pathname);
    const resolve = /^\/([^/]+)\/([^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    const m = opts.revisionApi === false ? resolve : (api ?? resolve);
    if (!m) return fail(404, 'RepoNotFound', 'not a resolve URL');
    const [, org, name, rawRevision, file] = m as unknown as [string, string, string, string, string | undefined];
    if (opts.token && req.headers.authorization !== `Bearer ${opts.token}`) return fail(401, 'GatedRepo', 'Invalid credentials in Authorization header');
    const repo = repos.get(`${org}/${name}`);
    if (!repo) return fail(404, 'RepoNotFound', 'Repository not found');
    const sha = lookup(repo, decodeURIComponent(rawRevision));
    if (sha === undefined) return fail(404, 'RevisionNotFound', 'Invalid rev id');
    const dir = repo.commits.get(sha)!;
    if (m === api) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: `${org}/${name}`, sha, siblings: [] }));
      return;
    }
    let body: Buffer;
    try {
      body = readFileSync(path.join(dir, file!));
    } catch {
      return fail(404, 'EntryNotFound', 'Entry not found');
    }
    const commit: Record<string, string> = opts.repoCommit === false ? {} : { 'x-repo-commit': sha };
    if (lfs.has(file!)) {
      // the real hub's 302 carries the LFS object's sha256 and size; the CDN's own headers do not
      res.writeHead(302, {
        ...commit, location: `${cdnOrigin}/cdn/${org}/${name}/${sha}/${file}`,
        'x-linked-etag': `"${advertisedSha(file!, body)}"`, 'x-linked-size': String(body.length), etag: `"${advertisedSha(file!, body)}"`, 'content-length': '0',
      }).end();
      return;
    }
    sendBody(req, res, body, { ...commit, etag: `"${advertisedSha(file!, body)}"` });
  };

  const hub = http.createServer((req, res) => void handler('hub')(req, res));
  const cdn = http.createServer((req, res) => void handler('cdn')(req, res));
  const listen = (s: http.Server) => new Promise<number>((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as AddressInfo).port)));
  const [hubPort, cdnPort] = await Promise.all([listen(hub), listen(cdn)]);
  cdnOrigin = `http://127.0.0.1:${cdnPort}`;
  const close = (s: http.Server) => new Promise<void>((resolve) => {
    s.closeAllConnections();
    s.close(() => resolve());
  });
  const repoOf = (name: string) => {
    const r = repos.get(name);
    if (!r) throw new Error(`the fake hub has no repo ${name}`);
    return r;
  };
  return {
    url: `http://127.0.0.1:${hubPort}`, requests,
    head: (name, revision = 'main') => {
      const sha = lookup(repoOf(name), revision);
      if (sha === undefined) throw new Error(`${name} has no revision ${revision}`);
      return sha;
    },
    commit: (name, dir, revision = 'main') => {
      const r = repoOf(name);
      const sha = newSha(name, r.commits.size);
      r.commits.set(sha, dir);
      r.refs.set(revision, sha);
      return sha;
    },
    close: async () => void (await Promise.all([close(hub), close(cdn)])),
  };
}
