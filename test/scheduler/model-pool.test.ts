import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { DEFAULT_CONFIG } from '../../src/core/config.js';
import { FerryError } from '../../src/core/errors.js';
import type { NamedTensors } from '../../src/core/tensor.js';
import { Monitor } from '../../src/monitor/monitor.js';
import { FsArtifactStore } from '../../src/registry/fs/fs-artifact-store.js';
import type { VersionRecord } from '../../src/registry/records.js';
import { Registry } from '../../src/registry/registry.js';
import { SqliteMetadataStore } from '../../src/registry/sqlite/sqlite-store.js';
import { OnnxRuntime } from '../../src/runtimes/onnx/onnx-runtime.js';
import type { LoadedModel, ModelArtifact, Runtime, RuntimeOptions } from '../../src/runtimes/runtime.js';
import { ModelPool, type PoolOptions } from '../../src/scheduler/model-pool.js';
import { mlpModel, mlpParams, mlpReference, type MlpParams } from '../fixtures/models.js';
import { FakeClock, settle } from '../helpers/fake-clock.js';
import { tempDir } from '../helpers/server.js';
import { chunks } from '../registry/support.js';

/** A promise the test opens by hand; open() also lets the work it started settle. */
function gate(): { wait: Promise<void>; open: () => Promise<void> } {
  let resolve!: () => void;
  const wait = new Promise<void>((r) => (resolve = r));
  return { wait, open: async () => {
    resolve();
    await settle();
  } };
}

/** The real OnnxRuntime, counting loads and unloads; holdNextLoad/holdNextInfer park one call until released. */
class CountingRuntime implements Runtime {
  readonly name = 'counting-onnxruntime';
  loads = 0;
  unloads = 0;
  private loadGate: Promise<void> | undefined;
  private inferGate: Promise<void> | undefined;

  constructor(private readonly inner: Runtime) {}

  holdNextLoad(): () => Promise<void> {
    const g = gate();
    this.loadGate = g.wait;
    return g.open;
  }

  /** The next run fails the way a model whose worker thread died fails. */
  dieOnNextInfer(): void {
    this.dying = true;
  }

  private dying = false;

  holdNextInfer(): () => Promise<void> {
    const g = gate();
    this.inferGate = g.wait;
    return g.open;
  }

  async load(artifact: ModelArtifact, options: RuntimeOptions): Promise<LoadedModel> {
    this.loads++;
    const held = this.loadGate;
    this.loadGate = undefined;
    if (held) await held;
    const model = await this.inner.load(artifact, options);
    return {
      signature: model.signature,
      infer: async (inputs, outputs) => {
        const held = this.inferGate;
        this.inferGate = undefined;
        if (held) await held;
        if (this.dying) {
          this.dying = false;
          throw new FerryError('UNAVAILABLE', "the model's worker thread stopped (exit code 1); retry to load it again");
        }
        return model.infer(inputs, outputs);
      },
      unload: async () => {
        this.unloads++;
        await model.unload();
      },
    };
  }
}

const SHAPES = { inputs: 16, hidden: 8, outputs: 4 };
const PARAMS = [1, 2, 3].map((seed) => mlpParams({ ...SHAPES, seed }));

interface Setup {
  readonly pool: ModelPool;
  readonly runtime: CountingRuntime;
  readonly clock: FakeClock;
  /** versions of models "a", "b", "c": the MLP with PARAMS[0], [1], [2] */
  readonly records: VersionRecord[];
}

async function setup(t: TestContext, options: Partial<PoolOptions> = {}): Promise<Setup> {
  const dir = tempDir('ferry-pool-');
  const onnx = new OnnxRuntime();
  const registry = new Registry(new SqliteMetadataStore(path.join(dir, 'ferry.db')), new FsArtifactStore(path.join(dir, 'artifacts')), onnx,
    { maxUploadBytes: 1 << 20, intraOpThreads: 1, defaults: DEFAULT_CONFIG.batching });
  const records: VersionRecord[] = [];
  for (const [i, name] of ['a', 'b', 'c'].entries()) records.push(await registry.push(name, chunks(mlpModel(PARAMS[i]!))));
  const runtime = new CountingRuntime(onnx);
  const clock = new FakeClock();
  const pool = new ModelPool(registry, runtime, new Monitor(), clock, {
    memoryBudgetBytes: 0, idleUnloadMs: 0, intraOpThreads: 1, defaults: DEFAULT_CONFIG.batching, ...options,
  });
  t.after(async () => {
    await pool.close();
    await registry.meta.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { pool, runtime, clock, records };
}

/** `batch` rows of deterministic inputs for the test MLP. */
function input(batch: number, offset = 0): { x: Float32Array; tensors: NamedTensors } {
  const x = Float32Array.from({ length: batch * SHAPES.inputs }, (_, i) => Math.sin(i + offset));
  return { x, tensors: { input: { dtype: 'FP32', shape: [batch, SHAPES.inputs], data: x } } };
}

async function assertComputes(pool: ModelPool, record: VersionRecord, params: MlpParams, offset = 0): Promise<void> {
  const { x, tensors } = input(2, offset);
  const result = await pool.infer(record, tensors);
  const logits = result.outputs.logits!;
  assert.deepEqual(logits.shape, [2, SHAPES.outputs]);
  const want = mlpReference(params, x, 2);
  (logits.data as Float32Array).forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 1e-4, `logit ${i}: ${v} vs ${want[i]}`));
}

const loadedNames = (pool: ModelPool) => pool.deployments().map((d) => d.record.model).sort();

describe('ModelPool loading', () => {
  it('loads nothing until the first request, and computes what the model computes', async (t) => {
    const { pool, runtime, records } = await setup(t);
    assert.equal(runtime.loads, 0);
    assert.equal(pool.isLoaded('a', 1), false);
    await assertComputes(pool, records[0]!, PARAMS[0]!);
    await assertComputes(pool, records[1]!, PARAMS[1]!, 5);
    assert.equal(runtime.loads, 2);
    assert.deepEqual(loadedNames(pool), ['a', 'b']);
    await assertComputes(pool, records[0]!, PARAMS[0]!, 9);
    assert.equal(runtime.loads, 2, 'a loaded version is reused');
  });

  it('concurrent first requests share one load', async (t) => {
    const { pool, runtime, records } = await setup(t);
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => pool.infer(records[0]!, input(1, i).tensors)));
    assert.equal(runtime.loads, 1);
    assert.equal(results.length, 8);
    results.forEach((r, i) => {
      const want = mlpReference(PARAMS[0]!, input(1, i).x, 1);
      (r.outputs.logits!.data as Float32Array).forEach((v, j) => assert.ok(Math.abs(v - want[j]!) < 1e-4));
    });
  });

  it('a version whose file is gone fails with 503 naming the model, and the pool stays usable', async (t) => {
    const { pool, records } = await setup(t);
    const broken = { ...records[0]!, artifactKey: 'models/a/missing.onnx' };
    await assert.rejects(pool.infer(broken, input(1).tensors), (e: FerryError) =>
      e.code === 'UNAVAILABLE' && e.retryAfterSeconds === 5 && /model "a" version 1 failed to load/.test(e.message)
      && !e.message.includes('/'), 'the message names the model, not paths on the server');
    assert.equal(pool.isLoaded('a', 1), false);
    await assertComputes(pool, records[0]!, PARAMS[0]!);
  });
});

describe('ModelPool and a model that stops working', () => {
  it('forgets a loaded model that can no longer run, and the next request loads it again', async (t) => {
    const { pool, runtime, records } = await setup(t);
    await assertComputes(pool, records[0]!, PARAMS[0]!);
    runtime.dieOnNextInfer();
    await assert.rejects(pool.infer(records[0]!, input(1).tensors), (e: FerryError) => e.code === 'UNAVAILABLE');
    assert.equal(pool.isLoaded('a', 1), false, 'not kept as a loaded model that fails every request');
    await assertComputes(pool, records[0]!, PARAMS[0]!);
    assert.equal(runtime.loads, 2);
  });
});

describe('ModelPool unloading', () => {
  it('unloads a version idle for idleUnloadMs, counting from its last request', async (t) => {
    const idle = 60_000;
    const { pool, runtime, clock, records } = await setup(t, { idleUnloadMs: idle });
    await assertComputes(pool, records[0]!, PARAMS[0]!);
    await clock.advance(idle / 2);
    await assertComputes(pool, records[0]!, PARAMS[0]!); // used again at t = 30 s
    await clock.advance(idle - 1);
    assert.equal(pool.isLoaded('a', 1), true, 'not yet idle for idleUnloadMs');
    // The sweep runs every min(idleUnloadMs / 4, 30 s), so it notices within one more period.
    await clock.advance(30_000);
    assert.equal(pool.isLoaded('a', 1), false);
    assert.equal(runtime.unloads, 1);
    await assertComputes(pool, records[0]!, PARAMS[0]!);
    assert.equal(runtime.loads, 2, 'a request after an idle unload loads the version again');
  });

  it('sweepIdle leaves a version alone while a request runs in it', async (t) => {
    const idle = 1000;
    const { pool, runtime, clock, records } = await setup(t, { idleUnloadMs: idle });
    // Loading happens in a worker thread in real time: load first, so only the held run is pending.
    await pool.acquire(records[0]!);
    const release = runtime.holdNextInfer();
    const running = pool.infer(records[0]!, input(1).tensors);
    await settle();
    await clock.advance(idle * 10);
    await pool.sweepIdle();
    assert.equal(pool.isLoaded('a', 1), true);
    await release();
    await running;
    await pool.sweepIdle();
    assert.equal(pool.isLoaded('a', 1), false, 'idle once the request finished');
  });

  it('never unloads on idle when idleUnloadMs is 0', async (t) => {
    const { pool, clock, records } = await setup(t, { idleUnloadMs: 0 });
    await assertComputes(pool, records[0]!, PARAMS[0]!);
    await clock.advance(365 * 24 * 3600_000);
    await pool.sweepIdle();
    assert.equal(pool.isLoaded('a', 1), true);
  });

  it('unload waits for admitted requests to finish, and a later request loads the version again', async (t) => {
    const { pool, runtime, records } = await setup(t);
    await assertComputes(pool, records[0]!, PARAMS[0]!);
    const release = runtime.holdNextInfer();
    const first = pool.infer(records[0]!, input(1, 1).tensors);
    await settle();
    const queued = pool.infer(records[0]!, input(1, 2).tensors); // waits behind the running batch
    await settle();
    let unloaded = false;
    const unloading = pool.unload('a', 1, 'api').then((n) => {
      unloaded = true;
      return n;
    });
    await settle();
    assert.equal(pool.isLoaded('a', 1), false, 'no new request is routed to a version being unloaded');
    assert.equal(unloaded, false, 'unload waits for the running request');
    assert.equal(runtime.unloads, 0, 'the session is still there for the admitted requests');
    await release();
    const [r1, r2, n] = await Promise.all([first, queued, unloading]);
    assert.equal(n, 1);
    assert.equal(runtime.unloads, 1);
    for (const [r, offset] of [[r1, 1], [r2, 2]] as const) {
      const want = mlpReference(PARAMS[0]!, input(1, offset).x, 1);
      (r.outputs.logits!.data as Float32Array).forEach((v, j) => assert.ok(Math.abs(v - want[j]!) < 1e-4));
    }
    await assertComputes(pool, records[0]!, PARAMS[0]!);
    assert.equal(runtime.loads, 2);
  });

  it('an unload during the first load still unloads, after serving the request that started the load', async (t) => {
    const { pool, runtime, records } = await setup(t);
    const release = runtime.holdNextLoad();
    const first = pool.infer(records[0]!, input(1).tensors);
    await settle();
    const unloading = pool.unload('a', undefined, 'api');
    await release();
    const [result, n] = await Promise.all([first, unloading]);
    assert.equal(n, 1);
    assert.deepEqual(result.outputs.logits!.shape, [1, SHAPES.outputs]);
    assert.equal(pool.isLoaded('a', 1), false);
    assert.equal(runtime.unloads, 1, 'the session is released, not left behind');
  });

  it('close waits for running requests, then releases every model and refuses new ones', async (t) => {
    const { pool, runtime, records } = await setup(t);
    await assertComputes(pool, records[1]!, PARAMS[1]!);
    const release = runtime.holdNextInfer();
    const running = pool.infer(records[0]!, input(1).tensors);
    await settle();
    const closing = pool.close();
    await settle();
    assert.equal(runtime.unloads, 0);
    await release();
    await Promise.all([running, closing]);
    assert.equal(runtime.unloads, 2);
    await assert.rejects(pool.infer(records[0]!, input(1).tensors), (e: FerryError) => e.code === 'UNAVAILABLE');
  });
});

describe('ModelPool memory budget', () => {
  // The three test models have the same size; the pool estimates twice the file size per loaded version.
  const ESTIMATE = 2 * mlpModel(PARAMS[0]!).length;
  const ROOM_FOR_TWO = 2 * ESTIMATE + ESTIMATE / 2;

  it('evicts the least recently used version to make room', async (t) => {
    const { pool, clock, runtime, records: [a, b, c] } = await setup(t, { memoryBudgetBytes: ROOM_FOR_TWO });
    assert.deepEqual(pool.deployments(), []);
    await assertComputes(pool, a!, PARAMS[0]!);
    assert.equal(pool.deployments()[0]?.estimatedBytes, ESTIMATE);
    await clock.advance(1000);
    await assertComputes(pool, b!, PARAMS[1]!);
    await clock.advance(1000);
    await assertComputes(pool, a!, PARAMS[0]!); // a is now more recent than b
    await clock.advance(1000);
    await assertComputes(pool, c!, PARAMS[2]!);
    assert.deepEqual(loadedNames(pool), ['a', 'c'], 'b was the least recently used');
    assert.equal(runtime.unloads, 1);
    await clock.advance(1000);
    await assertComputes(pool, b!, PARAMS[1]!);
    assert.deepEqual(loadedNames(pool), ['b', 'c'], 'then a was');
  });

  it('does not evict a version that is running a request, even when it is the least recently used', async (t) => {
    const { pool, clock, runtime, records: [a, b, c] } = await setup(t, { memoryBudgetBytes: ROOM_FOR_TWO });
    await pool.acquire(a!);
    const release = runtime.holdNextInfer();
    const running = pool.infer(a!, input(1).tensors); // a: last used at t = 0, still running
    await settle();
    await clock.advance(1000);
    await assertComputes(pool, b!, PARAMS[1]!);
    await clock.advance(1000);
    await assertComputes(pool, c!, PARAMS[2]!);
    assert.deepEqual(loadedNames(pool), ['a', 'c'], 'b went, though a was used longer ago');
    await release();
    const want = mlpReference(PARAMS[0]!, input(1).x, 1);
    ((await running).outputs.logits!.data as Float32Array).forEach((v, j) => assert.ok(Math.abs(v - want[j]!) < 1e-4));
  });

  it('refuses with 503 when the budget is held by busy versions, and loads once they are idle', async (t) => {
    const { pool, runtime, records: [a, b] } = await setup(t, { memoryBudgetBytes: ESTIMATE + 1 });
    await pool.acquire(a!);
    const release = runtime.holdNextInfer();
    const running = pool.infer(a!, input(1).tensors);
    await settle();
    await assert.rejects(pool.infer(b!, input(1).tensors), (e: FerryError) =>
      e.code === 'UNAVAILABLE' && e.status === 503 && e.retryAfterSeconds === 5 && /memory budget/.test(e.message));
    await release();
    await running;
    await assertComputes(pool, b!, PARAMS[1]!);
    assert.deepEqual(loadedNames(pool), ['b']);
  });

  it('concurrent first requests to different versions do not load past the budget together', async (t) => {
    const { pool, runtime, records } = await setup(t, { memoryBudgetBytes: ROOM_FOR_TWO });
    const outcomes = await Promise.allSettled(records.map((r) => pool.infer(r, input(1).tensors)));
    assert.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'fulfilled', 'rejected']);
    assert.equal(((outcomes[2] as PromiseRejectedResult).reason as FerryError).code, 'UNAVAILABLE');
    assert.deepEqual(loadedNames(pool), ['a', 'b']);
    assert.equal(runtime.loads, 2);
  });

  it('loads a model larger than the whole budget when nothing else is loaded', async (t) => {
    const { pool, records } = await setup(t, { memoryBudgetBytes: 1 });
    await assertComputes(pool, records[0]!, PARAMS[0]!);
    assert.deepEqual(loadedNames(pool), ['a']);
  });
});
