// API keys: shown once, stored as a hash, accepted as Bearer or x-api-key, revocable, expiring,
// limited to models; every bad key gets the same 401; `ferry keys` drives /api/keys.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateKey, keyFromHeaders, parseKey, secretMatches } from '../../src/security/api-keys.js';
import { mlpModel } from '../fixtures/models.js';
import { ferry } from '../helpers/cli.js';
import { call, keyedServer, makeKey, push, type KeyedServer } from './support.js';

const INFER = { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] };

describe('API key format', () => {
  it('is fy_<id>_<secret>, parses back, and only the right secret matches its hash', () => {
    const k = generateKey();
    assert.match(k.key, /^fy_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    const parsed = parseKey(k.key)!;
    assert.equal(parsed.id, k.id);
    assert.ok(secretMatches(parsed.secret, k.hash));
    assert.ok(!secretMatches(parsed.secret.slice(0, -1) + (parsed.secret.endsWith('A') ? 'B' : 'A'), k.hash));
    assert.ok(!k.hash.includes(parsed.secret));
    assert.notEqual(generateKey().key, k.key);
    for (const bad of ['', 'fy_', `fy_${k.id}`, `${k.key}x`, k.key.replace('fy_', 'fx_'), `fy_${k.id.toUpperCase()}_${parsed.secret}`]) assert.equal(parseKey(bad), undefined, bad);
  });

  it('is read from Authorization: Bearer or x-api-key', () => {
    assert.equal(keyFromHeaders({ authorization: 'Bearer abc' }), 'abc');
    assert.equal(keyFromHeaders({ authorization: 'bearer  abc ' }), 'abc');
    assert.equal(keyFromHeaders({ 'x-api-key': 'abc' }), 'abc');
    assert.equal(keyFromHeaders({ authorization: 'Basic abc' }), '');
    assert.equal(keyFromHeaders({}), undefined);
  });
});

describe('API keys over HTTP', () => {
  let s: KeyedServer;
  let wall = Date.parse('2030-01-01T00:00:00Z');
  before(async () => {
    s = await keyedServer({}, { now: () => new Date(wall) });
    assert.equal((await push(s, s.root, 'm', mlpModel({ inputs: 4, hidden: 3, outputs: 2 }))).status, 201);
    assert.equal((await push(s, s.root, 'other', mlpModel({ inputs: 4, hidden: 3, outputs: 2 }))).status, 201);
  });
  after(() => s.close());

  it('shows a new key once and stores only its hash', async () => {
    const made = await call(s.url, 'POST', '/api/keys', { key: s.root, body: { tenant: 'admin', scopes: ['infer'], name: 'ci' } });
    assert.equal(made.status, 201);
    assert.deepEqual([made.body.tenant, made.body.scopes, made.body.models, made.body.expiresAt, made.body.name], ['admin', ['infer'], null, null, 'ci']);
    const { id, secret } = parseKey(made.body.key)!;
    assert.equal(made.body.id, id);
    assert.equal(made.body.hash, undefined);
    const listed = await call(s.url, 'GET', '/api/keys', { key: s.root });
    const row = listed.body.keys.find((k: { id: string }) => k.id === id);
    assert.ok(row && row.key === undefined && row.hash === undefined, 'listings carry neither the key nor its hash');
    // The database file holds the hash, never the secret.
    const db = Buffer.concat([readFileSync(path.join(s.dataDir, 'ferry.db')), readFileSync(path.join(s.dataDir, 'ferry.db-wal'), { flag: 'a+' })]).toString('latin1');
    assert.ok(!db.includes(secret), 'the secret is not stored');
  });

  it('accepts Bearer and x-api-key, and refuses every kind of bad key with the same 401', async () => {
    const key = await makeKey(s, 'admin', ['infer']);
    assert.equal((await call(s.url, 'POST', '/v2/models/m/infer', { key, body: INFER })).status, 200);
    assert.equal((await call(s.url, 'POST', '/v2/models/m/infer', { headers: { 'x-api-key': key }, body: INFER })).status, 200);

    const revoked = await makeKey(s, 'admin', ['infer']);
    assert.equal((await call(s.url, 'DELETE', `/api/keys/${parseKey(revoked)!.id}`, { key: s.root })).body.revokedAt !== null, true);
    const expiring = await makeKey(s, 'admin', ['infer'], { expires: '1h' });
    assert.equal((await call(s.url, 'POST', '/v2/models/m/infer', { key: expiring, body: INFER })).status, 200);
    wall += 3_600_000;
    const { id } = parseKey(key)!;
    const bad = {
      malformed: 'not-a-key',
      unknown: generateKey().key,
      'wrong secret': `fy_${id}_${'A'.repeat(43)}`,
      revoked,
      expired: expiring,
    };
    const bodies = new Set<string>();
    for (const [what, k] of Object.entries(bad)) {
      const r = await call(s.url, 'POST', '/v2/models/m/infer', { key: k, body: INFER });
      assert.equal(r.status, 401, what);
      bodies.add(r.text);
    }
    assert.equal(bodies.size, 1, `one answer for every bad key: ${[...bodies].join(' | ')}`);
    assert.doesNotMatch([...bodies][0]!, /revoked|expired|unknown|secret/i);
    const none = await call(s.url, 'POST', '/v2/models/m/infer', { body: INFER });
    assert.equal(none.status, 401);
    assert.match(none.body.error, /needs an API key/);
  });

  it('limits a key to its models: any other model is 404, as if it did not exist', async () => {
    const key = await makeKey(s, 'admin', ['infer', 'read'], { models: ['m'] });
    assert.equal((await call(s.url, 'POST', '/v2/models/m/infer', { key, body: INFER })).status, 200);
    const other = await call(s.url, 'POST', '/v2/models/other/infer', { key, body: INFER });
    const missing = await call(s.url, 'POST', '/v2/models/nothing-here/infer', { key, body: INFER });
    assert.equal(other.status, 404);
    assert.equal(other.text, missing.text.replaceAll('nothing-here', 'other'));
    assert.deepEqual((await call(s.url, 'GET', '/api/models', { key })).body.models.map((m: { name: string }) => m.name), ['m']);
  });

  it('checks what POST /api/keys is asked for, and lets a key grant only what it holds', async () => {
    for (const [body, message] of [
      [{ tenant: 'a', scopes: ['root'] }, /"scopes" must be/],
      [{ tenant: 'A B', scopes: ['infer'] }, /tenant "A B" is not allowed/],
      [{ tenant: 'a', scopes: ['infer'], expires: 'soon' }, /"expires"/],
      [{ tenant: 'a', scopes: ['infer'], models: ['../x'] }, /model name/],
    ] as const) {
      const r = await call(s.url, 'POST', '/api/keys', { key: s.root, body });
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match(r.body.error.message, message);
    }
    const tenantAdmin = await makeKey(s, 'acme', ['admin', 'infer']);
    assert.equal((await call(s.url, 'POST', '/api/keys', { key: tenantAdmin, body: { tenant: 'acme', scopes: ['infer'] } })).status, 201);
    assert.equal((await call(s.url, 'POST', '/api/keys', { key: tenantAdmin, body: { tenant: 'other', scopes: ['infer'] } })).status, 403);
    assert.equal((await call(s.url, 'POST', '/api/keys', { key: tenantAdmin, body: { tenant: 'acme', scopes: ['train'] } })).status, 403);
    // A tenant's admin sees and revokes its own tenant's keys only.
    const listed = await call(s.url, 'GET', '/api/keys?tenant=admin', { key: tenantAdmin });
    assert.ok(listed.body.keys.length >= 2 && listed.body.keys.every((k: { tenant: string }) => k.tenant === 'acme'));
    assert.equal((await call(s.url, 'DELETE', `/api/keys/${parseKey(s.root)!.id}`, { key: tenantAdmin })).status, 404);
  });

  it('`ferry keys create | ls | revoke` drive the API with FERRY_API_KEY', async () => {
    const env = { FERRY_URL: s.url, FERRY_API_KEY: s.root };
    const created = await ferry(['keys', 'create', '--tenant', 'cli', '--scopes', 'infer,read', '--models', 'm', '--expires', '30d'], { env });
    assert.equal(created.code, 0, created.stderr);
    const key = created.stdout.trim();
    const { id } = parseKey(key)!;
    assert.match(created.stderr, new RegExp(`key ${id} for tenant cli \\(infer, read; models m; expires `));
    const ls = await ferry(['keys', 'ls', '--tenant', 'cli'], { env });
    assert.equal(ls.code, 0, ls.stderr);
    const rows = ls.stdout.trim().split('\n');
    assert.match(rows[0]!, /^ID\s+TENANT\s+SCOPES\s+MODELS\s+EXPIRES\s+STATE/);
    assert.match(rows[1]!, new RegExp(`^${id}\\s+cli\\s+infer,read\\s+m\\s+\\S+\\s+active`));
    assert.ok(!ls.stdout.includes(key.slice(20)), 'ls never shows a secret');
    const revoked = await ferry(['keys', 'revoke', id], { env });
    assert.equal(revoked.stdout.trim(), `revoked ${id} (tenant cli)`);
    assert.match((await ferry(['keys', 'ls', '--tenant', 'cli'], { env })).stdout, /revoked/);
    const noKey = await ferry(['keys', 'ls'], { env: { FERRY_URL: s.url } });
    assert.equal(noKey.code, 1);
    assert.match(noKey.stderr, /FERRY_API_KEY/);
  });
});
