// The dashboard's static files (web/, built by Vite into dist/web/) served at / by the server itself,
// so there is no second process to run. Files are read once at start and kept in memory with a gzip
// copy: the whole build is a few hundred KB, and a page load costs no disk reads. The files are
// public — the UI holds no data; it asks for an API key and every call it makes is checked as usual.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** dist/web/ from both src/server/ (tests under tsx) and dist/server/ (the built server). */
export const DASHBOARD_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/web');

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
};

// Inline styles: uPlot and Preact's style props set element styles; everything else comes from here.
const CSP = "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

interface StaticFile {
  readonly type: string;
  readonly body: Buffer;
  readonly gzip: Buffer | null;
  /** Vite names assets by content hash: they never change under one name */
  readonly immutable: boolean;
}

function readTree(dir: string, base = dir): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) {
      for (const [k, v] of readTree(full, base)) files.set(k, v);
      continue;
    }
    const body = readFileSync(full);
    const type = TYPES[path.extname(name)] ?? 'application/octet-stream';
    const compressible = /^text\/|javascript|json|svg/.test(type) && body.length > 1024;
    const rel = '/' + path.relative(base, full).split(path.sep).join('/');
    files.set(rel, { type, body, gzip: compressible ? gzipSync(body, { level: 9 }) : null, immutable: rel.startsWith('/assets/') });
  }
  return files;
}

/** gzip listed without q=0 (RFC 9110: q=0 means "not acceptable") */
const acceptsGzip = (header: string): boolean =>
  header.split(',').some((part) => {
    const [coding, ...params] = part.trim().split(';');
    if (coding!.trim().toLowerCase() !== 'gzip') return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });

function send(request: FastifyRequest, reply: FastifyReply, f: StaticFile): FastifyReply {
  reply.type(f.type).header('x-content-type-options', 'nosniff').header('vary', 'accept-encoding');
  reply.header('cache-control', f.immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
  if (f.type.startsWith('text/html')) reply.header('content-security-policy', CSP).header('referrer-policy', 'no-referrer');
  const gzip = f.gzip !== null && acceptsGzip(String(request.headers['accept-encoding'] ?? ''));
  if (gzip) reply.header('content-encoding', 'gzip');
  return reply.send(gzip ? f.gzip : f.body);
}

// One read and gzip per folder per process (about 7 ms): every server a process starts (the tests
// start hundreds) serves the same build.
const trees = new Map<string, Map<string, StaticFile>>();

function filesOf(dir: string): Map<string, StaticFile> | null {
  let files = trees.get(dir);
  if (!files) {
    if (!existsSync(path.join(dir, 'index.html'))) return null;
    files = readTree(dir);
    trees.set(dir, files);
  }
  return files;
}

export async function dashboardRoutes(app: FastifyInstance, { dir = DASHBOARD_DIR }: { dir?: string } = {}): Promise<void> {
  const files = filesOf(dir);
  app.get('/', async (request, reply) => {
    if (!files) {
      return reply.code(503).type('text/plain; charset=utf-8')
        .send(`The dashboard is not built (no ${path.join(dir, 'index.html')}); run \`npm run build\`. The APIs under /v2, /v1 and /api work without it.`);
    }
    return send(request, reply, files.get('/index.html')!);
  });
  app.get<{ Params: { '*': string } }>('/assets/*', async (request, reply) => {
    const f = files?.get(`/assets/${request.params['*']}`);
    if (!f) return reply.code(404).send({ error: `no dashboard file /assets/${request.params['*'].slice(0, 200)}; reload the page (the server may have been upgraded)` });
    return send(request, reply, f);
  });
}
