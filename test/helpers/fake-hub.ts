// A Hugging Face–style hub on loopback for `ferry models pull` tests: it serves model folders in the
// hub's `/{org}/{name}/resolve/{revision}/{file}` layout with the headers the real hub sends (ETag,
// X-Linked-Etag and X-Linked-Size with the sha256 and size, X-Error-Code on 404s), honours Range, and
// redirects LFS files to a second "CDN" server on another port, as the hub does with its CDN.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export interface FakeHubOptions {
  /** 'org/name' → a folder in the Hugging Face layout */
  readonly repos: Record<string, string>;
  readonly revisions?: readonly string[];
  /** when set, the hub (not the CDN) answers 401 without `Authorization: Bearer <token>` */
  readonly token?: string;
  /** files sent through the CDN, as the hub does with LFS files */
  readonly lfs?: readonly string[];
  /** the first CDN request for this file gets half its body, then the socket is destroyed */
  readonly dropFirst?: string;
  /** this file is advertised with a sha256 that is not its own */
  readonly wrongSha?: string;
}

export interface HubRequest { readonly server: 'hub' | 'cdn'; readonly path: string; readonly range?: string; readonly authorization?: string }

export interface FakeHub {
  readonly url: string;
  readonly requests: HubRequest[];
  close(): Promise<void>;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export async function startFakeHub(opts: FakeHubOptions): Promise<FakeHub> {
  const requests: HubRequest[] = [];
  const revisions = opts.revisions ?? ['main'];
  const lfs = new Set(opts.lfs ?? ['onnx/model.onnx']);
  const dropped = new Set<string>();
  let cdnOrigin = '';

  const advertisedSha = (file: string, body: Buffer) => (file === opts.wrongSha ? sha256(Buffer.from('not this file')) : sha256(body));

  function sendBody(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer, etag: string, dropKey?: string): void {
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const from = m ? Number(m[1]) : 0;
    if (from >= body.length && m) {
      res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
      return;
    }
    const slice = body.subarray(from);
    res.writeHead(m ? 206 : 200, {
      etag: `"${etag}"`, 'content-length': String(slice.length), 'content-type': 'application/octet-stream', 'accept-ranges': 'bytes',
      ...(m ? { 'content-range': `bytes ${from}-${body.length - 1}/${body.length}` } : {}),
    });
    if (dropKey !== undefined && !dropped.has(dropKey)) {
      dropped.add(dropKey);
      res.write(slice.subarray(0, Math.floor(slice.length / 2)), () => req.socket.destroy());
      return;
    }
    res.end(slice);
  }

  const handler = (server: 'hub' | 'cdn') => (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://hub');
    requests.push({ server, path: url.pathname, ...(req.headers.range ? { range: req.headers.range } : {}), ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
    const fail = (status: number, code: string, message: string) => res.writeHead(status, { 'x-error-code': code, 'x-error-message': message, 'content-type': 'text/plain' }).end(message);

    if (server === 'cdn') {
      // /cdn/{org}/{name}/{revision}/{file}: what the hub's redirect points at
      const [, org, name, revision, ...rest] = url.pathname.split('/').slice(1);
      const file = rest.join('/');
      const dir = opts.repos[`${org}/${name}`];
      if (!dir || revision === undefined) return fail(404, 'EntryNotFound', 'no such object');
      const body = readFileSync(path.join(dir, file));
      return sendBody(req, res, body, sha256(body), file === opts.dropFirst ? `${org}/${name}/${file}` : undefined);
    }

    const m = /^\/([^/]+)\/([^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (!m) return fail(404, 'RepoNotFound', 'not a resolve URL');
    const [, org, name, rawRevision, file] = m as unknown as [string, string, string, string, string];
    if (opts.token && req.headers.authorization !== `Bearer ${opts.token}`) return fail(401, 'GatedRepo', 'Invalid credentials in Authorization header');
    const dir = opts.repos[`${org}/${name}`];
    if (!dir) return fail(404, 'RepoNotFound', 'Repository not found');
    const revision = decodeURIComponent(rawRevision);
    if (!revisions.includes(revision)) return fail(404, 'RevisionNotFound', 'Invalid rev id');
    let body: Buffer;
    try {
      body = readFileSync(path.join(dir, file));
    } catch {
      return fail(404, 'EntryNotFound', 'Entry not found');
    }
    if (lfs.has(file)) {
      // the real hub's 302 carries the LFS object's sha256 and size; the CDN's own headers do not
      res.writeHead(302, {
        location: `${cdnOrigin}/cdn/${org}/${name}/${rawRevision}/${file}`,
        'x-linked-etag': `"${advertisedSha(file, body)}"`, 'x-linked-size': String(body.length), etag: `"${advertisedSha(file, body)}"`,
      }).end();
      return;
    }
    sendBody(req, res, body, advertisedSha(file, body));
  };

  const hub = http.createServer(handler('hub'));
  const cdn = http.createServer(handler('cdn'));
  const listen = (s: http.Server) => new Promise<number>((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as AddressInfo).port)));
  const [hubPort, cdnPort] = await Promise.all([listen(hub), listen(cdn)]);
  cdnOrigin = `http://127.0.0.1:${cdnPort}`;
  const close = (s: http.Server) => new Promise<void>((resolve) => {
    s.closeAllConnections();
    s.close(() => resolve());
  });
  return { url: `http://127.0.0.1:${hubPort}`, requests, close: async () => void (await Promise.all([close(hub), close(cdn)])) };
}
