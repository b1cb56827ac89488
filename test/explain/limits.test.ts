// What one explain request may cost the server: a few explanations at once (the rest wait in a short
// line or are turned away with Retry-After), a time limit (the V2 `timeout`, else the server's), a
// client that disconnects stopping its work, and no gradient session opened after shutdown. Time
// is a fake clock throughout; the HTTP tests hold requests in the model's batch queue, which waits
// for the clock, so nothing depends on how fast this machine is.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { Clock, TimerHandle } from '../../src/core/clock.js';
import type { FerryError } from '../../src/core/errors.js';
import type { NamedTensors } from '../../src/core/tensor.js';
import { parseExplainParams } from '../../src/explain/explain-params.js';
import { ExplainService } from '../../src/explain/explain-service.js';
import { ExplainGate } from '../../src/explain/gate.js';
import { GradientCache } from '../../src/explain/gradient-cache.js';
import type { VersionRecord } from '../../src/registry/records.js';
import { mnistExamples } from '../../src/training/data/mnist.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { pushModel, startServer, type TestServer } from '../helpers/server.js';

const CNN = 'models/mnist-cnn.onnx';

/** Polls `cond` between turns of the event loop (no wall-clock wait). */
async function until(what: string, cond: () => boolean | Promise<boolean>, turns = 5000): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (await cond()) return;
    await new Promise<void>((r) => setImmediate(r));
  }
  assert.fail(`gave up waiting for ${what}`);
}

const code = (want: string) => (err: FerryError) => {
  assert.equal(err.code, want, err.message);
  return true;
};

describe('the explain gate', () => {
  it('lets 2 in, lines up 4 in order, turns the next away with Retry-After, and drops a waiter whose client left', async () => {
    const gate = new ExplainGate(2, 4);
    const inside = [await gate.enter(), await gate.enter()];
    const order: number[] = [];
    const left = new AbortController();
    const line = [0, 1, 2, 3].map((i) => gate.enter(i === 1 ? left.signal : undefined).then((release) => (order.push(i), release)));
    line[1]!.catch(() => undefined);
    assert.deepEqual([gate.running, gate.waiting], [2, 4]);
    await assert.rejects(gate.enter(), (err: FerryError) => {
      assert.deepEqual([err.code, err.status, err.retryAfterSeconds], ['RESOURCE_EXHAUSTED', 429, 1]);
      assert.match(err.message, /^2 explanations are running and 4 wait already; retry shortly$/);
      return true;
    });
    left.abort();
    await assert.rejects(line[1]!, { name: 'AbortError' });
    assert.equal(gate.waiting, 3);
    inside[0]!();
    inside[0]!(); // a second call gives nothing back twice
    const first = await line[0]!;
    assert.deepEqual([gate.running, gate.waiting, order], [2, 2, [0]]);
    inside[1]!();
    first();
    await Promise.all([line[2], line[3]]);
    assert.deepEqual(order, [0, 2, 3]);
    const waiting = gate.enter();
    gate.close();
    await assert.rejects(waiting, code('UNAVAILABLE'));
    await assert.rejects(gate.enter(), code('UNAVAILABLE'));
  });
});

describe('the gradient cache after close', () => {
  it('refuses to open a session nothing would release', async () => {
    const cache = new GradientCache(1);
    await cache.close();
    let loads = 0;
    const load = async () => {
      loads++;
      return new Uint8Array(readFileSync(CNN));
    };
    await assert.rejects(cache.with('cnn@1', load, {}, async () => 'used'), (err: FerryError) => {
      assert.deepEqual([err.code, err.status, err.retryAfterSeconds, err.message], ['UNAVAILABLE', 503, 1, 'the server is shutting down']);
      return true;
    });
    assert.equal(loads, 0);
  });
});

/** A clock whose time the test sets; timers fire only when `fire` is called. */
class ManualClock implements Clock {
  t = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  private seq = 0;
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    this.timers.set(++this.seq, { at: this.t + ms, fn });
    return { id: this.seq };
  }
  clearTimeout(h: TimerHandle): void {
    this.timers.delete(h.id as number);
  }
  defer(fn: () => void): void {
    queueMicrotask(fn);
  }
  get pending(): number {
    return this.timers.size;
  }
}

describe('the explain service', () => {
  const rec: VersionRecord = {
    model: 'cnn', version: 1, format: 'onnx', artifactKey: 'cnn', sizeBytes: 0, sha256: 'cnn', createdAt: '', config: {}, metadata: {},
    signature: { inputs: [{ name: 'input', dtype: 'FP32', shape: [-1, 1, 28, 28] }], outputs: [{ name: 'logits', dtype: 'FP32', shape: [-1, 10] }] },
  };
  const input: NamedTensors = { input: { dtype: 'FP32', shape: [1, 1, 28, 28], data: new Float32Array(784).fill(0.5) } };
  const logits = (inputs: NamedTensors) => {
    const rows = inputs['input']!.shape[0]!;
    return { outputs: { logits: { dtype: 'FP32' as const, shape: [rows, 10], data: new Float32Array(rows * 10) } } };
  };

  it('stops occlusion at the time limit, counted on its clock, and says to send a larger patch or stride', async () => {
    const clock = new ManualClock();
    let infers = 0;
    const svc = new ExplainService({
      modelPath: async () => CNN, maxRows: async () => 4, intraOpThreads: 1, clock, timeoutMs: 1000,
      // each request through the model pool takes 400 ms
      infer: async (_rec, inputs) => {
        infers++;
        clock.t += 400;
        return logits(inputs);
      },
    });
    const params = parseExplainParams({ method: 'occlusion', patch: 4, stride: 2 });
    await assert.rejects(svc.explainTensor(rec, input, params), (err: FerryError) => {
      assert.deepEqual([err.code, err.status], ['DEADLINE_EXCEEDED', 504]);
      assert.match(err.message, /^the explanation did not finish within the server's limit of 1000 ms for an explanation; patch 4 with stride 2 makes 169 occluded copies \(16 were scored\): send a larger "patch" or "stride"$/);
      return true;
    });
    // the class (1), the input's score (1), one run of 16 copies in 4 requests; not 1 + 1 + 43
    assert.equal(infers, 6);
    assert.equal(clock.pending, 0, 'the timer is cleared');
    assert.deepEqual(svc.load, { running: 0, waiting: 0 });

    // a request's own limit is named as such, and a longer one lets the same work finish
    clock.t = 0;
    await assert.rejects(svc.explainTensor(rec, input, params, { timeoutMs: 500 }), /within the request's "timeout" of 500 ms; .*, or send a longer "timeout"$/);
    clock.t = 0;
    const e = await svc.explainTensor(rec, input, params, { timeoutMs: 60_000 });
    assert.deepEqual(e.occlusion, { patch: 4, stride: 2, patches: 169 });
    await svc.close();
  });

  it('runs one explanation at a time here, lines up one, turns the next away, and frees the place when a client leaves', async () => {
    let open!: () => void;
    const held = new Promise<void>((r) => (open = r));
    let infers = 0;
    const svc = new ExplainService({
      modelPath: async () => CNN, maxRows: async () => 16, intraOpThreads: 1, maxConcurrent: 1, maxWaiting: 1,
      infer: async (_rec, inputs) => {
        infers++;
        await held;
        return logits(inputs);
      },
    });
    const params = parseExplainParams({ method: 'occlusion', patch: 7, stride: 7 });
    const first = new AbortController();
    const running = svc.explainTensor(rec, input, params, { signal: first.signal });
    await until('the first explanation to reach the model', () => infers === 1);
    const waiting = svc.explainTensor(rec, input, params);
    await until('the second to wait', () => svc.load.waiting === 1);
    await assert.rejects(svc.explainTensor(rec, input, params), code('RESOURCE_EXHAUSTED'));
    // the first client goes away: its work stops after the run in flight, and the second goes in
    first.abort();
    open();
    await assert.rejects(running, (err: FerryError) => {
      assert.deepEqual([err.code, err.status], ['CANCELLED', 499]);
      return true;
    });
    const e = await waiting;
    assert.equal(e.occlusion!.patches, 16);
    assert.equal(infers, 1 + 3, 'the first: its class only; the second: class, input, 16 copies in one request');
    assert.deepEqual(svc.load, { running: 0, waiting: 0 });
    await svc.close();
  });
});

describe('explain over HTTP: disconnects, time limits, too many at once', () => {
  const clock = new FakeClock();
  let s: TestServer;
  let seven: number[];
  const body = (parameters: Record<string, unknown>) => JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 1, 28, 28], data: seven }], parameters });
  const occlusion = { method: 'occlusion', patch: 7, stride: 7 };
  const explain = async (parameters: Record<string, unknown>) => {
    const r = await fetch(`${s.url}/v2/models/cnn-q/explain`, { method: 'POST', body: body(parameters), headers: { 'content-type': 'application/json' } });
    return { status: r.status, retryAfter: r.headers.get('retry-after'), body: (await r.json()) as { error?: string; occlusion?: unknown } };
  };
  const metric = async (name: string) => {
    const text = await (await fetch(`${s.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes('model="cnn-q"'));
    return line === undefined ? 0 : Number(line.split(' ').at(-1));
  };
  const queueDepth = () => metric('ferry_queue_depth');
  /** rows the model has run, over every batch (explanations reach the model through the pool) */
  const rowsRun = async () => {
    const st = (await (await fetch(`${s.url}/v2/models/cnn-q/stats`)).json()) as { model_stats: { batch_stats: { batch_size: number; compute_infer: { count: number } }[] }[] };
    return st.model_stats[0]!.batch_stats.reduce((a, b) => a + b.batch_size * b.compute_infer.count, 0);
  };
  /** Moves the clock whenever a request waits for its batch delay, until `done` is true. */
  const drive = async (done: () => boolean) => {
    for (let i = 0; i < 2000 && !done(); i++) {
      if ((await queueDepth()) > 0) await clock.advance(1000);
    }
    assert.ok(done(), 'all requests answered');
  };

  before(async () => {
    s = await startServer({ idleUnloadMs: 0 }, { clock });
    // a partial batch waits 1000 ms on the fake clock: an explanation's first request to the model
    // (its one row) stays queued until the test moves time
    assert.equal((await pushModel(s.url, 'cnn-q', new Uint8Array(readFileSync(CNN)), { maxBatchSize: 4, maxQueueDelayMs: 1000 })).status, 201);
    const { x, y } = await mnistExamples();
    const i = y.indexOf(7) + 3;
    seven = Array.from(x.subarray(i * 784, (i + 1) * 784));
  });
  after(() => s.close());

  it('stops the work of a client that disconnects, and frees its place', { timeout: 60_000 }, async () => {
    const u = new URL(`${s.url}/v2/models/cnn-q/explain`);
    const gone = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent: false, headers: { 'content-type': 'application/json' } });
    const goneError = new Promise<Error>((resolve) => gone.on('error', resolve));
    gone.end(body(occlusion));
    await until('its first request to the model to queue', async () => (await queueDepth()) === 1);
    gone.destroy();
    assert.match((await goneError).message, /socket hang up|aborted/);
    await until('the server to drop it', async () => (await queueDepth()) === 0);
    await clock.advance(1000);
    assert.equal(await rowsRun(), 0, 'none of its 18 rows (the class, the input, 16 copies) ran');

    // both places are free: two explanations reach the model together
    const results: { status: number }[] = [];
    const both = [explain(occlusion), explain(occlusion)].map((p) => p.then((r) => results.push(r)));
    await until('both to queue', async () => (await queueDepth()) === 2);
    await drive(() => results.length === 2);
    await Promise.all(both);
    assert.deepEqual(results.map((r) => r.status), [200, 200]);
    assert.equal(await rowsRun(), 2 * 18);
  });

  it('answers 504 when the V2 "timeout" passes, dropping the queued work', { timeout: 60_000 }, async () => {
    const before = await rowsRun();
    const pending = explain({ ...occlusion, timeout: 500_000 });
    await until('its first request to the model to queue', async () => (await queueDepth()) === 1);
    await clock.advance(500);
    const r = await pending;
    assert.equal(r.status, 504, JSON.stringify(r.body));
    assert.match(r.body.error!, /^the explanation did not finish within the request's "timeout" of 500 ms; send a larger "patch" or "stride", or send a longer "timeout"$/);
    assert.equal(await queueDepth(), 0);
    assert.equal(await rowsRun(), before);
  });

  it('turns a request away with 429 and Retry-After when 2 run and 4 wait', { timeout: 60_000 }, async () => {
    const results: { status: number; retryAfter: string | null; body: { error?: string } }[] = [];
    const track = (p: ReturnType<typeof explain>) => p.then((r) => results.push(r));
    const all = [track(explain(occlusion)), track(explain(occlusion))];
    await until('the first two to reach the model', async () => (await queueDepth()) === 2);
    all.push(...Array.from({ length: 5 }, () => track(explain(occlusion))));
    await until('one of the five to be turned away', () => results.length === 1);
    assert.deepEqual([results[0]!.status, results[0]!.retryAfter], [429, '1']);
    assert.match(results[0]!.body.error!, /^2 explanations are running and 4 wait already; retry shortly$/);
    await drive(() => results.length === 7);
    await Promise.all(all);
    assert.deepEqual(results.slice(1).map((r) => r.status), [200, 200, 200, 200, 200, 200]);
  });
});
