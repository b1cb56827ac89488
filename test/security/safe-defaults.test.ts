// Safe defaults: every non-public route needs a key unless open mode (loopback only) lets inference
// through; CORS is off unless configured; TLS with a certificate and key file. And the audit log.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { DEFAULT_CONFIG } from '../../src/core/config.js';
import { Ferry } from '../../src/ferry.js';
import { createLogger } from '../../src/monitor/logger.js';
import { mlpModel } from '../fixtures/models.js';
import { ferry } from '../helpers/cli.js';
import { tempDir } from '../helpers/server.js';
import { call, keyedServer, makeKey, push, type KeyedServer } from './support.js';

const INFER = { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] };
const MODEL = mlpModel({ inputs: 4, hidden: 3, outputs: 2 });

describe('default and open mode', () => {
  it('needs a key for inference by default, and makes the first admin key only once', async () => {
    const s = await keyedServer();
    try {
      assert.equal((await push(s, s.root, 'm', MODEL)).status, 201);
      assert.equal((await call(s.url, 'POST', '/v2/models/m/infer', { body: INFER })).status, 401);
      assert.equal((await call(s.url, 'GET', '/v2/health/ready')).status, 200, 'probes stay public');
      assert.equal((await call(s.url, 'GET', '/metrics')).status, 401);
    } finally {
      await s.close();
    }
  });

  it('open mode on loopback: inference and its model metadata without a key, never the admin API', async () => {
    const s = await keyedServer({ open: true });
    try {
      assert.equal((await push(s, s.root, 'm', MODEL)).status, 201);
      assert.equal((await call(s.url, 'POST', '/v2/models/m/infer', { body: INFER })).status, 200);
      assert.equal((await call(s.url, 'GET', '/v2/models/m')).status, 200);
      for (const [m, p] of [['GET', '/api/models'], ['POST', '/api/training-jobs'], ['GET', '/api/keys'], ['GET', '/metrics'], ['DELETE', '/api/models/m']] as const) {
        assert.equal((await call(s.url, m, p)).status, 401, `${m} ${p}`);
      }
      assert.equal((await call(s.url, 'POST', '/v2/models/m/infer', { key: 'fy_bad', body: INFER })).status, 401, 'a key that is sent is still checked');
    } finally {
      await s.close();
    }
  });

  it('refuses to start in open mode bound to anything but loopback', async () => {
    const config = { ...DEFAULT_CONFIG, host: '0.0.0.0', port: 0, open: true, data: tempDir(), logLevel: 'silent' as const, builtinModels: false };
    await assert.rejects(Ferry.create({ config, logger: createLogger('silent') }), /open mode \(--open\) .* only on a loopback address .* bound to 0\.0\.0\.0/);
    const r = await ferry(['serve', '--open', '--host', '0.0.0.0', '--port', '0', '--data', tempDir()]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^ferry: open mode \(--open\) lets anyone who can reach the server run inference without a key/);
  });
});

describe('CORS and TLS', () => {
  it('sends no CORS headers unless origins are configured, then only for those', async () => {
    const off = await keyedServer();
    const on = await keyedServer({ cors: { origins: ['https://app.example'] } });
    try {
      const plain = await call(off.url, 'GET', '/v2/health/live', { headers: { origin: 'https://app.example' } });
      assert.equal(plain.headers.get('access-control-allow-origin'), null);
      assert.equal((await call(off.url, 'OPTIONS', '/v2/models/m/infer', { headers: { origin: 'https://app.example' } })).status, 404);
      const ok = await call(on.url, 'GET', '/v2/health/live', { headers: { origin: 'https://app.example' } });
      assert.equal(ok.headers.get('access-control-allow-origin'), 'https://app.example');
      assert.equal((await call(on.url, 'GET', '/v2/health/live', { headers: { origin: 'https://evil.example' } })).headers.get('access-control-allow-origin'), null);
      const pre = await call(on.url, 'OPTIONS', '/v2/models/m/infer', { headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } });
      assert.equal(pre.status, 204);
      assert.match(pre.headers.get('access-control-allow-headers')!, /authorization/);
    } finally {
      await off.close();
      await on.close();
    }
  });

  it('speaks HTTPS with a configured certificate and key', async () => {
    const dir = tempDir();
    const cert = path.join(dir, 'cert.pem'), key = path.join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const s = await keyedServer({ tls: { cert, key } });
    try {
      assert.match(s.url, /^https:\/\//);
      const ca = execFileSync('cat', [cert]);
      const body = await new Promise<string>((resolve, reject) => {
        https.get(`${s.url}/v2/health/live`, { ca }, (res) => {
          let t = '';
          res.on('data', (c: Buffer) => (t += c.toString()));
          res.on('end', () => resolve(t));
        }).on('error', reject);
      });
      assert.deepEqual(JSON.parse(body), { live: true });
      await assert.rejects(fetch(`${s.url.replace('https', 'http')}/v2/health/live`), 'no plain HTTP on the TLS port');
    } finally {
      await s.close();
    }
    writeFileSync(path.join(dir, 'only.json'), JSON.stringify({ tls: { cert } }));
    const half = await ferry(['serve', '--config', path.join(dir, 'only.json'), '--data', dir]);
    assert.equal(half.code, 2);
    assert.match(half.stderr, /set both tls\.cert and tls\.key/);
  });
});

describe('audit log', () => {
  let s: KeyedServer;
  before(async () => {
    s = await keyedServer();
  });
  after(() => s.close());

  it('records management actions and refused management requests, and is queryable by admins only', async () => {
    const a = await makeKey(s, 'a', ['admin', 'infer']);
    const reader = await makeKey(s, 'a', ['read', 'infer']);
    assert.equal((await push(s, a, 'am', MODEL)).status, 201);
    assert.equal((await call(s.url, 'PUT', '/api/models/am/aliases/prod', { key: a, body: { version: 1 } })).status, 200);
    assert.equal((await call(s.url, 'POST', '/api/models/am/shares', { key: a, body: { tenant: 'b' } })).status, 201);
    assert.equal((await call(s.url, 'DELETE', '/api/models/am/aliases/prod', { key: a })).status, 200);
    assert.equal((await call(s.url, 'DELETE', '/api/models/am', { key: reader })).status, 403);
    assert.equal((await call(s.url, 'DELETE', '/api/models/am', { key: 'fy_000000000000_' + 'B'.repeat(43) })).status, 401);
    assert.equal((await call(s.url, 'POST', '/v2/models/am/infer', { key: a, body: INFER })).status, 200, 'inference is not a management action');
    assert.equal((await call(s.url, 'DELETE', '/api/models/am', { key: a })).status, 200);

    const all = await call(s.url, 'GET', '/api/audit', { key: s.root });
    assert.equal(all.status, 200);
    const rows = all.body.entries as { action: string; outcome: string; tenant: string | null; target: string | null; keyId: string | null; ip: string; status: number; time: string }[];
    const seen = rows.map((r) => `${r.action} ${r.target} ${r.outcome}`);
    assert.deepEqual(seen.filter((r) => r.includes(' am')), [
      'model.push am ok', 'alias.move am/prod ok', 'model.share am ok', 'alias.delete am/prod ok',
      'model.delete am denied', 'model.delete am unauthenticated', 'model.delete am ok',
    ]);
    assert.ok(rows.filter((r) => r.action === 'key.create').length >= 3, 'the first admin key and the two made here');
    const refused = rows.find((r) => r.outcome === 'unauthenticated')!;
    assert.deepEqual([refused.keyId, refused.tenant, refused.status], ['000000000000', null, 401]);
    assert.equal(rows.find((r) => r.outcome === 'denied')!.tenant, 'a');
    assert.ok(rows.every((r) => r.ip.length > 0 && !Number.isNaN(Date.parse(r.time))));

    const pushes = await call(s.url, 'GET', '/api/audit?action=model.push&tenant=a', { key: s.root });
    assert.deepEqual(pushes.body.entries.map((r: { target: string }) => r.target), ['am']);
    const future = await call(s.url, 'GET', '/api/audit?from=2999-01-01', { key: s.root });
    assert.deepEqual(future.body.entries, []);
    const own = await call(s.url, 'GET', '/api/audit?tenant=admin', { key: a });
    assert.ok(own.body.entries.every((r: { tenant: string }) => r.tenant === 'a'), "a tenant's admin reads its own rows only");
    assert.equal((await call(s.url, 'GET', '/api/audit', { key: reader })).status, 403);
    assert.equal((await call(s.url, 'GET', '/api/audit?from=yesterday', { key: s.root })).status, 400);
  });

  it('is append-only in the database itself', () => {
    const db = new Database(path.join(s.dataDir, 'ferry.db'));
    try {
      assert.throws(() => db.exec("UPDATE audit_log SET outcome = 'ok'"), /append-only/);
      assert.throws(() => db.exec('DELETE FROM audit_log'), /append-only/);
    } finally {
      db.close();
    }
  });
});
