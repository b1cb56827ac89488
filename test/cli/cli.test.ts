// The `ferry` command as a user runs it: the compiled bin/ferry.js in child processes, a real server
// on a free loopback port, and the client commands talking to it. Needs dist/ (npm test builds it;
// when iterating, run `npx tsc -p tsconfig.json` first).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { mlpModel, mlpParams, mlpReference, slowModel } from '../fixtures/models.js';
import { BIN, envWith, ferry, freePort, ROOT } from '../helpers/cli.js';

const BUILTINS = ['mnist-cnn', 'mnist-mlp', 'paddleocr-cls', 'paddleocr-det', 'paddleocr-rec', 'silero-vad'];

const temps: string[] = [];
const servers: Served[] = [];
function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'ferry-cli-'));
  temps.push(d);
  return d;
}

/** A `ferry serve` child process with its stdout collected line by line. */
class Served {
  readonly lines: string[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;
  private readonly serving: Promise<void>;

  private constructor(readonly child: ChildProcess, readonly url: string, readonly startedAt: number) {
    // 'close', not 'exit': it comes after stdout has been read to the end.
    this.exited = new Promise((resolve) => child.once('close', (code) => resolve(code)));
    child.stderr!.on('data', (c: Buffer) => (this.stderr += c.toString()));
    const rl = createInterface({ input: child.stdout! });
    this.serving = new Promise((resolve, reject) => {
      rl.on('line', (line) => {
        this.lines.push(line);
        if (line.includes('"msg":"ferry is serving"')) resolve();
      });
      void this.exited.then((code) => reject(new Error(`ferry serve exited with ${code} before serving: ${this.stderr}`)));
    });
  }

  static spawn(url: string, args: string[], env: Record<string, string> = {}): Served {
    const startedAt = performance.now();
    const child = spawn(process.execPath, [BIN, 'serve', ...args], { env: envWith(env), stdio: ['ignore', 'pipe', 'pipe'] });
    const served = new Served(child, url, startedAt);
    servers.push(served);
    return served;
  }

  /** Waits for the "ferry is serving" log line, then for /v2/health/ready to answer 200. Returns ms since spawn. */
  async ready(): Promise<number> {
    await this.serving;
    const res = await fetch(`${this.url}/v2/health/ready`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { ready: true });
    return performance.now() - this.startedAt;
  }

  /** The admin key a first start prints once on stderr. */
  async adminKey(): Promise<string> {
    const re = /^ {4}(fy_\S+)$/m;
    for (;;) {
      const m = re.exec(this.stderr);
      if (m) return m[1]!;
      await Promise.race([new Promise((resolve) => this.child.stderr!.once('data', resolve)), this.exited.then(() => assert.fail(`no admin key on stderr: ${this.stderr}`))]);
    }
  }

  /** SIGTERM, then the exit code. */
  async stop(): Promise<number | null> {
    this.child.kill('SIGTERM');
    return this.exited;
  }

  /** Every stdout line is one JSON object; every request line carries a reqId; no line carries tensor data. */
  assertLogs(forbidden: string[] = []): void {
    assert.ok(this.lines.length > 0, 'the server logged something');
    let requests = 0;
    for (const line of this.lines) {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        assert.fail(`log line is not JSON: ${line.slice(0, 200)}`);
      }
      assert.equal(typeof entry.level, 'number');
      assert.equal(typeof entry.msg, 'string');
      if (entry.msg === 'request') {
        requests++;
        assert.equal(typeof entry.reqId, 'string', `request line without a reqId: ${line}`);
        assert.match(entry.reqId as string, /\S/);
      }
      assert.ok(line.length < 2000, `a ${line.length}-character log line: ${line.slice(0, 300)}`);
      for (const f of ['"inputs"', '"outputs"', '"data":[', ...forbidden]) assert.ok(!line.includes(f), `log line carries ${f}: ${line.slice(0, 300)}`);
    }
    assert.ok(requests > 0, 'at least one request was logged');
  }
}

const bearer = (key?: string): Record<string, string> => (key ? { authorization: `Bearer ${key}` } : {});

async function getJson(url: string, key?: string): Promise<{ status: number; body: any }> { // `any`: JSON from the wire, checked by the assertions
  const res = await fetch(url, { headers: bearer(key) });
  return { status: res.status, body: await res.json() };
}

async function postInfer(url: string, body: unknown, key?: string): Promise<{ status: number; body: any }> { // `any`: as above
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...bearer(key) }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

const zeros = (n: number) => new Array<number>(n).fill(0);

describe('ferry CLI', () => {
  before(() => {
    assert.ok(existsSync(path.join(ROOT, 'dist', 'cli', 'main.js')), 'dist/ is missing: run `npx tsc -p tsconfig.json` (npm test does)');
  });
  after(() => {
    // A failed test may leave its server running; it must not keep the test runner alive.
    for (const sv of servers) if (sv.child.exitCode === null && sv.child.signalCode === null) sv.child.kill('SIGKILL');
    for (const d of temps) rmSync(d, { recursive: true, force: true });
  });

  it('serves a fresh data folder with the built-in models, and starts again in under 2 s', async (t) => {
    const data = tempDir();
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    // --open, as `npm start` (the README's quick start) runs it: inference needs no key on loopback.
    const args = ['--port', String(port), '--data', data, '--log-level', 'info', '--open'];

    const first = Served.spawn(url, args);
    const firstMs = await first.ready();
    const key = await first.adminKey();
    assert.equal((await getJson(`${url}/api/models`)).status, 401, 'open mode leaves the admin API locked');
    const denied = await ferry(['--url', url, 'models', 'ls']);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /needs an API key[\s\S]*FERRY_API_KEY/);
    const ls = await ferry(['--url', url, 'models', 'ls'], { env: { FERRY_API_KEY: key } });
    assert.equal(ls.code, 0, ls.stderr);
    const rows = ls.stdout.trim().split('\n');
    assert.match(rows[0]!, /^NAME\s+VERSIONS\s+ALIASES/);
    assert.deepEqual(rows.slice(1).map((r) => r.trim().split(/\s+/)), BUILTINS.map((n) => [n, '1', '-']));

    // silero-vad: one 512-sample frame of silence at 16 kHz with zero recurrent state.
    const vad = await postInfer(`${url}/v2/models/silero-vad/infer`, {
      inputs: [
        { name: 'input', datatype: 'FP32', shape: [1, 512], data: zeros(512) },
        { name: 'sr', datatype: 'INT64', shape: [], data: [16000] },
        { name: 'h', datatype: 'FP32', shape: [2, 1, 64], data: zeros(128) },
        { name: 'c', datatype: 'FP32', shape: [2, 1, 64], data: zeros(128) },
      ],
      outputs: [{ name: 'output' }],
    });
    assert.equal(vad.status, 200, JSON.stringify(vad.body));
    const speech = vad.body.outputs[0];
    assert.deepEqual([speech.name, speech.shape], ['output', [1, 1]]);
    assert.ok(speech.data[0] >= 0 && speech.data[0] <= 1, `speech probability ${speech.data[0]}`);

    // paddleocr-cls: one 48x192 text-line crop -> [0°, 180°] probabilities.
    const crop = Array.from({ length: 3 * 48 * 192 }, (_, i) => Math.sin(i / 50));
    const cls = await postInfer(`${url}/v2/models/paddleocr-cls/infer`, { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3, 48, 192], data: crop }] });
    assert.equal(cls.status, 200, JSON.stringify(cls.body));
    const [p0, p180] = cls.body.outputs[0].data as number[];
    assert.deepEqual(cls.body.outputs[0].shape, [1, 2]);
    assert.ok(p0! >= 0 && p180! >= 0 && Math.abs(p0! + p180! - 1) < 1e-4, `probabilities ${p0}, ${p180}`);

    assert.equal(await first.stop(), 0);
    first.assertLogs();
    assert.ok(first.lines.some((l) => l.includes('"msg":"registered built-in models"')));

    const second = Served.spawn(url, args);
    const secondMs = await second.ready();
    t.diagnostic(`start to ready: first start ${firstMs.toFixed(0)} ms (imports built-ins), second start ${secondMs.toFixed(0)} ms`);
    const again = await ferry(['--url', url, '--api-key', key, 'models', 'ls', '--json']);
    assert.doesNotMatch(second.stderr, /fy_/, 'the admin key is made and shown on the first start only');
    assert.deepEqual((JSON.parse(again.stdout) as { name: string; versions: number[] }[]).map((m) => [m.name, m.versions]), BUILTINS.map((n) => [n, [1]]), 'built-ins are imported once');
    assert.equal(await second.stop(), 0);
    second.assertLogs();
    assert.ok(secondMs < 2000, `second start took ${secondMs.toFixed(0)} ms`);
  });

  it('takes FERRY_PORT, FERRY_HOST and FERRY_DATA from the environment, with flags winning', async () => {
    const data = tempDir();
    const port = await freePort();
    // All of 127/8 is loopback on Linux, so a second address shows the host setting is used.
    const host = process.platform === 'linux' ? '127.0.0.2' : '127.0.0.1';
    const env = { FERRY_PORT: String(port), FERRY_HOST: host, FERRY_DATA: data, FERRY_BUILTIN_MODELS: 'false', FERRY_LOG_LEVEL: 'info' };
    const byEnv = Served.spawn(`http://${host}:${port}`, [], env);
    await byEnv.ready();
    assert.ok(existsSync(path.join(data, 'ferry.db')), 'the metadata store is in FERRY_DATA');
    assert.deepEqual((await getJson(`http://${host}:${port}/api/models`, await byEnv.adminKey())).body, { models: [] });
    if (host !== '127.0.0.1') await assert.rejects(fetch(`http://127.0.0.1:${port}/v2/health/live`), 'nothing listens on the other address');
    assert.equal(await byEnv.stop(), 0);

    const flagPort = await freePort();
    const byFlag = Served.spawn(`http://${host}:${flagPort}`, ['--port', String(flagPort)], env);
    await byFlag.ready();
    assert.equal(await byFlag.stop(), 0);
  });

  it('refuses a bad configuration with a message naming the key', async () => {
    const data = tempDir();
    const badEnv = await ferry(['serve', '--data', data], { env: { FERRY_PORT: 'abc' } });
    assert.equal(badEnv.code, 2);
    assert.match(badEnv.stderr, /FERRY_PORT/);
    assert.match(badEnv.stderr, /"port" must be an integer/);

    const file = path.join(data, 'ferry.json');
    writeFileSync(file, JSON.stringify({ port: 0, batching: { maxBatchSise: 8 } }));
    const badFile = await ferry(['serve', '--data', data, '--config', file]);
    assert.equal(badFile.code, 2);
    assert.match(badFile.stderr, /unknown configuration key "batching\.maxBatchSise"/);

    const badFlag = await ferry(['serve', '--data', data, '--log-level', 'loud']);
    assert.equal(badFlag.code, 2);
    assert.match(badFlag.stderr, /"logLevel" must be one of/);
    assert.ok(!existsSync(path.join(data, 'ferry.db')), 'nothing was started');
  });

  it('says so when the port is taken', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as AddressInfo;
    try {
      const r = await ferry(['serve', '--port', String(port), '--data', tempDir()], { env: { FERRY_BUILTIN_MODELS: 'false' } });
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`^ferry: cannot listen on 127\\.0\\.0\\.1:${port}: another process is using that port`));
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });

  it('pushes, lists, aliases and removes models', async () => {
    const files = tempDir();
    const [p1, p2] = [mlpParams({ inputs: 5, hidden: 8, outputs: 2, seed: 1 }), mlpParams({ inputs: 5, hidden: 8, outputs: 2, seed: 2 })];
    writeFileSync(path.join(files, 'm-v1.onnx'), mlpModel(p1));
    writeFileSync(path.join(files, 'm-v2.onnx'), mlpModel(p2));
    writeFileSync(path.join(files, 'classifier.onnx'), mlpModel(p1));
    writeFileSync(path.join(files, 'notes.onnx'), 'not a model');
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const server = Served.spawn(url, ['--port', String(port), '--data', tempDir()], { FERRY_BUILTIN_MODELS: 'false' });
    await server.ready();
    const key = await server.adminKey();
    const run = async (...args: string[]) => {
      const r = await ferry(args, { env: { FERRY_URL: url, FERRY_API_KEY: key } });
      assert.equal(r.code, 0, `ferry ${args.join(' ')}: ${r.stderr}`);
      return r.stdout.trim();
    };
    const fails = async (...args: string[]) => {
      const r = await ferry(args, { env: { FERRY_URL: url, FERRY_API_KEY: key } });
      assert.equal(r.code, 1, `ferry ${args.join(' ')} should fail: ${r.stdout}`);
      return r.stderr.trim();
    };
    const table = async () => (await run('models', 'ls')).split('\n').slice(1).map((r) => r.trim().split(/\s+/));

    assert.match(await run('models', 'ls'), /no models registered/);
    assert.equal(await run('models', 'push', path.join(files, 'm-v1.onnx'), '--name', 'm'), `registered m version 1 (${mlpModel(p1).length} bytes)`);
    assert.match(await run('models', 'push', path.join(files, 'm-v2.onnx'), '--name', 'm', '--config', '{"maxBatchSize":8}', '--description', 'second try'), /^registered m version 2 /);
    assert.match(await run('models', 'push', path.join(files, 'classifier.onnx')), /^registered classifier version 1 /, 'the name defaults to the file name');
    assert.equal(await run('models', 'alias', 'm', 'prod', '1'), 'm:prod → version 1');
    assert.equal(await run('models', 'alias', 'm', 'prod', '2'), 'm:prod → version 2 (was 1)');
    assert.deepEqual(await table(), [['classifier', '1', '-'], ['m', '1,2', 'prod→2']]);

    const shown = JSON.parse(await run('models', 'show', 'm')) as { aliases: object; versions: { version: number; config: object; metadata: { description?: string } }[] };
    assert.deepEqual(shown.aliases, { prod: 2 });
    assert.deepEqual(shown.versions[1]!.config, { maxBatchSize: 8 });
    assert.equal(shown.versions[1]!.metadata.description, 'second try');

    // What the CLI registered is what the server serves: unversioned requests follow prod.
    const x = Float32Array.from([0.5, -1, 0.25, 2, -0.75]);
    const served = await postInfer(`${url}/v2/models/m/infer`, { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 5], data: Array.from(x) }] }, key);
    assert.equal(served.body.model_version, '2');
    (served.body.outputs[0].data as number[]).forEach((v, i) => assert.ok(Math.abs(v - mlpReference(p2, x, 1)[i]!) < 1e-5));

    assert.match(await fails('models', 'alias', 'm', 'prod', '9'), /^ferry: model "m" has no version 9/);
    assert.match(await fails('models', 'alias', 'm', 'latest', '1'), /"latest" is reserved/);
    assert.match(await fails('models', 'push', path.join(files, 'notes.onnx'), '--name', 'notes'), /^ferry: the upload is not a valid ONNX model/);
    assert.match(await fails('models', 'push', path.join(files, 'm-v1.onnx'), '--name', 'm', '--config', '{"maxBatchSiz":8}'), /unknown key "maxBatchSiz"/);
    assert.match(await fails('models', 'push', path.join(files, 'm-v1.onnx'), '--name', 'm', '--config', '{maxBatchSize:8}'), /--config must be a JSON object/);
    assert.match(await fails('models', 'push', path.join(files, 'missing.onnx')), /cannot read .*missing\.onnx: no such file/);
    assert.match(await fails('models', 'push', path.join(files, 'm-v1.onnx'), '--name', '../escape'), /model name "\.\.\/escape" is not allowed/);
    assert.match(await fails('models', 'rm', 'nope'), /model "nope" does not exist/);

    assert.equal(await run('models', 'rm', 'm', '2'), 'deleted m version 2');
    assert.deepEqual(await table(), [['classifier', '1', '-'], ['m', '1', '-']], 'the alias went with its version');
    assert.equal(await run('models', 'alias', 'classifier', 'canary', '1'), 'classifier:canary → version 1');
    assert.equal(await run('models', 'unalias', 'classifier', 'canary'), 'removed classifier:canary');
    assert.match(await fails('models', 'unalias', 'classifier', 'canary'), /model "classifier" has no alias "canary"/);
    assert.equal(await run('models', 'rm', 'm'), 'deleted m version 1');
    assert.deepEqual(await table(), [['classifier', '1', '-']]);

    assert.equal(await server.stop(), 0);
    server.assertLogs();
  });

  it('says which URL it could not reach when no server is running', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const byFlag = await ferry(['--url', url, 'models', 'ls']);
    assert.equal(byFlag.code, 1);
    assert.match(byFlag.stderr, new RegExp(`cannot reach Ferry at ${url.replace(/\./g, '\\.')}.*ECONNREFUSED.*is \`ferry serve\` running`));
    const file = path.join(tempDir(), 'm.onnx');
    writeFileSync(file, mlpModel({ inputs: 2, hidden: 2, outputs: 2 }));
    const byEnv = await ferry(['models', 'push', file], { env: { FERRY_URL: url } });
    assert.equal(byEnv.code, 1);
    assert.match(byEnv.stderr, new RegExp(`cannot reach Ferry at ${url.replace(/\./g, '\\.')}`));
    const notUrl = await ferry(['--url', 'localhost-8080', 'models', 'ls']);
    assert.equal(notUrl.code, 1);
    assert.match(notUrl.stderr, /--url "localhost-8080" is not a URL/);
  });

  it('finishes in-flight requests on SIGTERM and exits 0, logging JSON without tensor data', async (t) => {
    const files = tempDir();
    // 1024 layers over 256 rows: ~0.2 s per request on a laptop core, so several queue behind each other.
    writeFileSync(path.join(files, 'slow.onnx'), slowModel(1024));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const server = Served.spawn(url, ['--port', String(port), '--data', tempDir(), '--log-level', 'info'], { FERRY_BUILTIN_MODELS: 'false', FERRY_LOG_INFERENCE_REQUESTS: 'true' });
    await server.ready();
    const key = await server.adminKey();
    // maxBatchSize 0: one request per run, so the others wait in the queue where /metrics shows them.
    const pushed = await ferry(['--url', url, 'models', 'push', path.join(files, 'slow.onnx'), '--config', '{"maxBatchSize":0}'], { env: { FERRY_API_KEY: key } });
    assert.equal(pushed.code, 0, pushed.stderr);

    // A value that must never show up in the logs, sent once as JSON.
    const MARKER = 0.0123456789;
    const small = await postInfer(`${url}/v2/models/slow/infer`, { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 256], data: new Array<number>(256).fill(MARKER) }] }, key);
    assert.equal(small.status, 200);

    // The slow ones travel as binary tensors: small bodies that the server takes in at once.
    // enough of them that some are still queued however slowly this (possibly busy) machine polls
    const rows = 256, N = 8;
    const header = Buffer.from(JSON.stringify({
      inputs: [{ name: 'x', datatype: 'FP32', shape: [rows, 256], parameters: { binary_data_size: rows * 256 * 4 } }],
      outputs: [{ name: 'y', parameters: { binary_data: true } }],
    }));
    const body = new Uint8Array(Buffer.concat([header, Buffer.from(new Float32Array(rows * 256).fill(MARKER).buffer)]));
    const inflight = Array.from({ length: N }, async () => {
      const res = await fetch(`${url}/v2/models/slow/infer`, {
        method: 'POST', body, headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length), ...bearer(key) },
      });
      return { status: res.status, bytes: (await res.arrayBuffer()).byteLength };
    });

    // A model this slow moves to a worker thread after its first run (runtimeIsolation auto), so
    // /metrics answers while a batch computes. Wait until it shows every request either executed or
    // queued, with at least one still waiting in the queue.
    const metric = (text: string, name: string) => Number(text.match(new RegExp(`${name}\\{model="slow",version="1"\\} (\\d+)`))?.[1] ?? 0);
    let polls = 0;
    for (;;) {
      assert.ok(++polls < 5000, 'the slow requests never queued');
      const text = await (await fetch(`${url}/metrics`, { headers: bearer(key) })).text();
      const executed = metric(text, 'ferry_execution_count_total') - 1, queued = metric(text, 'ferry_queue_depth');
      if (executed + queued === N && queued >= 1) break;
    }
    server.child.kill('SIGTERM');

    // While draining, the server stops answering ready (503, or the connection is refused).
    let draining = false;
    for (let i = 0; i < 5000 && !draining; i++) {
      draining = await fetch(`${url}/v2/health/ready`).then((r) => r.status === 503, () => true);
    }
    assert.ok(draining, 'readiness dropped after SIGTERM');

    const done = await Promise.all(inflight);
    assert.deepEqual(done.map((d) => d.status), new Array(N).fill(200), 'every in-flight request finished');
    for (const d of done) assert.ok(d.bytes > rows * 256 * 4, 'each answer carries the whole output');
    assert.equal(await server.exited, 0);
    t.diagnostic(`all ${N} requests admitted after ${polls} polls of /metrics`);

    server.assertLogs([String(MARKER).slice(0, 8)]);
    const entries = server.lines.map((l) => JSON.parse(l) as { msg: string; url?: string; status?: number });
    const stopping = entries.findIndex((e) => e.msg.startsWith('stopping'));
    const inferLines = entries.flatMap((e, i) => (e.msg === 'request' && e.url === '/v2/models/slow/infer' ? [i] : []));
    assert.equal(inferLines.length, N + 1);
    assert.ok(stopping >= 0 && inferLines.some((i) => i > stopping), 'a request admitted before SIGTERM finished after it');
    assert.equal(entries.at(-1)?.msg, 'stopped');
  });
});
