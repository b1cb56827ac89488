import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cancellation } from '../../src/core/cancel.js';
import { FerryError } from '../../src/core/errors.js';
import type { NamedTensors } from '../../src/core/tensor.js';
import { DynamicBatcher, type BatcherOptions, type ExecutionReport } from '../../src/scheduler/batcher.js';
import { FakeClock, settle } from '../helpers/fake-clock.js';

const OPTS: BatcherOptions = { maxBatchSize: 8, maxQueueDelayMs: 0, preferredBatchSizes: [], maxQueueSize: 100, instances: 1, defaultTimeoutMs: 0 };

/** A model that doubles its input "x" into "y"; each run waits until the test releases it. */
function gatedModel() {
  const batches: number[][] = [];
  const gates: (() => void)[] = [];
  let failNext: Error | undefined;
  const execute = async (inputs: NamedTensors): Promise<NamedTensors> => {
    const x = inputs.x!;
    batches.push(Array.from(x.data as Float32Array));
    await new Promise<void>((r) => gates.push(r));
    if (failNext) {
      const e = failNext;
      failNext = undefined;
      throw e;
    }
    return { y: { dtype: 'FP32', shape: x.shape, data: (x.data as Float32Array).map((v) => v * 2) } };
  };
  return {
    execute, batches,
    release: async () => {
      while (gates.length) gates.shift()!();
      await settle();
    },
    failNextWith: (e: Error) => (failNext = e),
  };
}

const row = (...v: number[]): NamedTensors => ({ x: { dtype: 'FP32', shape: [1, v.length], data: Float32Array.from(v) } });
const rows = (n: number, start: number): NamedTensors => ({ x: { dtype: 'FP32', shape: [n, 1], data: Float32Array.from({ length: n }, (_, i) => start + i) } });

describe('DynamicBatcher', () => {
  it('batches requests that queue while a batch runs, and returns each caller its own rows', async () => {
    const clock = new FakeClock();
    const m = gatedModel();
    const reports: ExecutionReport[] = [];
    const b = new DynamicBatcher(m.execute, OPTS, clock, (r) => reports.push(r));
    const first = b.submit(row(1));
    await settle();
    const rest = [2, 3, 4].map((v) => b.submit(row(v)));
    await settle();
    assert.deepEqual(m.batches, [[1]], 'the second batch waits for the first to finish');
    await m.release();
    await m.release();
    assert.deepEqual(m.batches, [[1], [2, 3, 4]]);
    const out = await Promise.all([first, ...rest]);
    assert.deepEqual(out.map((r) => Array.from(r.outputs.y!.data as Float32Array)), [[2], [4], [6], [8]]);
    assert.deepEqual(out.map((r) => r.batchSize), [1, 3, 3, 3]);
    assert.deepEqual(reports.map((r) => [r.batchSize, r.requests, r.ok]), [[1, 1, true], [3, 3, true]]);
  });

  it('never exceeds maxBatchSize rows and keeps FIFO order across batches', async () => {
    const clock = new FakeClock();
    const m = gatedModel();
    const b = new DynamicBatcher(m.execute, { ...OPTS, maxBatchSize: 4 }, clock);
    const all = [b.submit(rows(1, 0))];
    await settle();
    all.push(b.submit(rows(3, 1)), b.submit(rows(2, 4)), b.submit(rows(2, 6)));
    for (let i = 0; i < 4; i++) await m.release();
    assert.deepEqual(m.batches, [[0], [1, 2, 3], [4, 5, 6, 7]]);
    await Promise.all(all);
  });

  it('batches only requests whose non-batch dimensions match', async () => {
    const clock = new FakeClock();
    const m = gatedModel();
    const b = new DynamicBatcher(m.execute, OPTS, clock);
    const blocker = b.submit(row(0));
    await settle();
    const a = [b.submit(row(1, 1)), b.submit(row(9)), b.submit(row(2, 2))];
    for (let i = 0; i < 4; i++) await m.release();
    assert.deepEqual(m.batches, [[0], [1, 1, 2, 2], [9]]);
    const out = await Promise.all(a);
    assert.deepEqual(Array.from(out[1]!.outputs.y!.data as Float32Array), [18]);
    await blocker;
  });

  it('waits up to maxQueueDelayMs for a fuller batch, and a full batch goes at once', async () => {
    const clock = new FakeClock();
    const m = gatedModel();
    const b = new DynamicBatcher(m.execute, { ...OPTS, maxBatchSize: 3, maxQueueDelayMs: 10 }, clock);
    const p1 = b.submit(row(1));
    await clock.advance(5);
    assert.equal(m.batches.length, 0, 'not yet: the oldest request has waited 5 of 10 ms');
    const p2 = b.submit(row(2));
    await clock.advance(5);
    assert.deepEqual(m.batches, [[1, 2]], 'sent when the oldest request reached the delay');
    await m.release();
    await Promise.all([p1, p2]);
    const full = [b.submit(row(3)), b.submit(row(4)), b.submit(row(5))];
    await settle();
    assert.deepEqual(m.batches[1], [3, 4, 5], 'a full batch does not wait for the delay');
    await m.release();
    await Promise.all(full);
  });

  it('sends the largest preferred batch size the queue can form without waiting', async () => {
    const clock = new FakeClock();
    const m = gatedModel();
    const b = new DynamicBatcher(m.execute, { ...OPTS, maxBatchSize: 8, maxQueueDelayMs: 100, preferredBatchSizes: [2, 4] }, clock);
    const ps = [1, 2, 3, 4, 5].map((v) => b.submit(row(v)));
    await settle();
    assert.deepEqual(m.batches, [[1, 2, 3, 4]]);
    await m.release();
    assert.equal(m.batches.length, 1, 'the fifth request waits for the delay: 1 is not a preferred size');
    await clock.advance(100);
    assert.deepEqual(m.batches[1], [5]);
    await m.release();
    await Promise.all(ps);
  });

  it('rejects with 429 and Retry-After when the queue is full, and accepts again once it drains', async () => {
    const clock = new FakeClock();
    const m = gatedModel();
    const b = new DynamicBatcher(m.execute, { ...OPTS, maxQueueSize: 2 }, clock);
    const running = b.submit(row(0));
    await settle();
    const queued = [b.submit(row(1)), b.submit(row(2))];
    await assert.rejects(b.submit(row(3)), (e: FerryError) => e.code === 'RESOURCE_EXHAUSTED' && e.status === 429 && e.retryAfterSeconds === 1);
    await m.release();
    await m.release();
    await Promise.all([running, ...queued]);
    const later = b.submit(row(4));
    await settle();
    await m.release();
    assert.deepEqual(Array.from((await later).outputs.y!.data as Float32Array), [8]);
  });

  it('serves higher priority levels first, FIFO within a level', async () => {
    const clock = new FakeClock();
    const m = gatedModel();
    const b = new DynamicBatcher(m.execute, { ...OPTS, maxBatchSize: 0 }, clock);
    const first = b.submit(row(0));
    await settle();
    const ps = [b.submit(row(1), { priority: 3 }), b.submit(row(2)), b.submit(row(3), { priority: 1 }), b.submit(row(4), { priority: 3 })];
    for (let i = 0; i < 6; i++) await m.release();
    assert.deepEqual(m.batches, [[0], [3], [1], [4], [2]], 'priority 1, then 3 in arrival order, then the default level 5');
    await Promise.all([first, ...ps]);
    await assert.rejects(b.submit(row(1), { priority: 11 }), /priority/);
  });

  it('fails a request whose timeout passes while it waits, without running it', async () => {
    const clock = new FakeClock();
    const m = gatedModel();
    const b = new DynamicBatcher(m.execute, OPTS, clock);
    const running = b.submit(row(0));
    await settle();
    const late = assert.rejects(b.submit(row(1), { timeoutMs: 50 }), (e: FerryError) => e.code === 'DEADLINE_EXCEEDED' && e.status === 504);
    const patient = b.submit(row(2));
    await clock.advance(49);
    assert.equal(b.depth, 2);
    await clock.advance(1);
    await late;
    assert.equal(b.depth, 1);
    await m.release();
    await m.release();
    assert.deepEqual(m.batches, [[0], [2]]);
    await Promise.all([running, patient]);
  });

  it('drops queued work when the client disconnects', async () => {
    const clock = new FakeClock();
    const m = gatedModel();
    const b = new DynamicBatcher(m.execute, OPTS, clock);
    const running = b.submit(row(0));
    await settle();
    const ac = new Cancellation();
    const gone = b.submit(row(1), { cancellation: ac });
    const stays = b.submit(row(2));
    ac.cancel();
    await assert.rejects(gone, (e: FerryError) => e.code === 'CANCELLED');
    await m.release();
    await m.release();
    assert.deepEqual(m.batches, [[0], [2]], 'the cancelled request never reached the model');
    await Promise.all([running, stays]);
  });

  it('fails every request of a failed batch with the same error', async () => {
    const clock = new FakeClock();
    const m = gatedModel();
    const reports: ExecutionReport[] = [];
    const b = new DynamicBatcher(m.execute, OPTS, clock, (r) => reports.push(r));
    const blocker = b.submit(row(0));
    await settle();
    const ps = [b.submit(row(1)), b.submit(row(2))].map((p) => assert.rejects(p, /bad batch/));
    await m.release();
    m.failNextWith(new FerryError('INVALID_ARGUMENT', 'bad batch'));
    await m.release();
    await blocker;
    await Promise.all(ps);
    assert.deepEqual(reports.map((r) => r.ok), [true, false]);
    const after = b.submit(row(5));
    await settle();
    await m.release();
    assert.equal((await after).batchSize, 1, 'the batcher keeps serving after a failure');
  });

  it('rejects a request larger than maxBatchSize and inputs that disagree on rows', async () => {
    const b = new DynamicBatcher(gatedModel().execute, { ...OPTS, maxBatchSize: 4 }, new FakeClock());
    await assert.rejects(b.submit(rows(5, 0)), /5 rows but this model's maxBatchSize is 4/);
    const mixed: NamedTensors = { x: { dtype: 'FP32', shape: [2, 1], data: new Float32Array(2) }, z: { dtype: 'FP32', shape: [3, 1], data: new Float32Array(3) } };
    await assert.rejects(b.submit(mixed), /disagree on the batch dimension/);
  });

  it('close() refuses new work with 503 but finishes what it admitted', async () => {
    const clock = new FakeClock();
    const m = gatedModel();
    const b = new DynamicBatcher(m.execute, OPTS, clock);
    const p = [b.submit(row(1)), b.submit(row(2))];
    await settle();
    let closed = false;
    const closing = b.close('unloading').then(() => (closed = true));
    await assert.rejects(b.submit(row(3)), (e: FerryError) => e.status === 503);
    await settle();
    assert.equal(closed, false);
    await m.release();
    await closing;
    assert.deepEqual((await Promise.all(p)).map((r) => Array.from(r.outputs.y!.data as Float32Array)), [[2], [4]]);
  });
});
