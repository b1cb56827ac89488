// Servers with API keys on, and requests that carry them.
import assert from 'node:assert/strict';
import type { Clock } from '../../src/core/clock.js';
import { startServer, type ConfigOverrides, type TestServer } from '../helpers/server.js';

export interface KeyedServer extends TestServer {
  /** the admin key made on first start: tenant "admin", every scope */
  readonly root: string;
}

export async function keyedServer(overrides: ConfigOverrides = {}, opts: { clock?: Clock; now?: () => Date } = {}): Promise<KeyedServer> {
  const s = await startServer(overrides, { ...opts, auth: true });
  const root = s.ferry.firstAdminKey;
  assert.ok(root, 'a fresh server makes an admin key');
  return Object.assign(s, { root });
}

export interface Reply {
  status: number;
  headers: Headers;
  // `any`: JSON from the wire, checked by the assertions
  body: any;
  text: string;
}

export async function call(url: string, method: string, path: string, opts: { key?: string; body?: unknown; headers?: Record<string, string>; raw?: BodyInit } = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...(opts.key ? { authorization: `Bearer ${opts.key}` } : {}), ...opts.headers };
  let body: BodyInit | undefined = opts.raw;
  if (opts.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(opts.body);
  } else if (opts.raw !== undefined) {
    headers['content-type'] ??= 'application/octet-stream';
  }
  const res = await fetch(`${url}${path}`, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

/** Makes a key with the root key; returns the key string. */
export async function makeKey(s: KeyedServer, tenant: string, scopes: string[], extra: Record<string, unknown> = {}): Promise<string> {
  const r = await call(s.url, 'POST', '/api/keys', { key: s.root, body: { tenant, scopes, ...extra } });
  assert.equal(r.status, 201, r.text);
  return r.body.key as string;
}

export async function push(s: TestServer, key: string | undefined, name: string, bytes: Uint8Array): Promise<Reply> {
  return call(s.url, 'POST', `/api/models/${encodeURIComponent(name)}/versions`, { key, raw: Buffer.from(bytes) });
}
