// The optimize service on a real registry in a temporary folder, with small models trained here on a
// few hundred MNIST digits: each run registers a version whose lineage names its parent and the
// transformation, reports size, latency and accuracy against the original, and moves an alias only
// when the variant is within tolerance. Bad input fails before any work, naming what to send.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_CONFIG } from '../../src/core/config.js';
import { FerryError } from '../../src/core/errors.js';
import { openRegistry } from '../../src/ferry.js';
import { modelInput } from '../../src/optimize/examples.js';
import { OptimizeService } from '../../src/optimize/optimize.js';
import { withinTolerance } from '../../src/optimize/report.js';
import { transformationName } from '../../src/optimize/request.js';
import type { Registry } from '../../src/registry/registry.js';
import { RECIPES } from '../../src/training/recipes.js';
import { registerTrained, resolveParent, runTraining } from '../../src/training/run.js';
import type { TrainSpec } from '../../src/training/spec.js';
import { readFloatInitializers } from '../../src/training/weights.js';
import { mlpModel } from '../fixtures/models.js';

const DIGITS = { type: 'mnist', train: 400, test: 300 } as const;
const MLP: TrainSpec = { ...RECIPES['mnist-mlp']!, name: 'mlp', dataset: DIGITS, epochs: 3, batchSize: 32 };
const CNN: TrainSpec = { ...RECIPES['mnist-cnn']!, name: 'cnn', dataset: DIGITS, epochs: 1 };

const rejectsWith = (p: Promise<unknown>, code: string, message: RegExp) =>
  assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof FerryError, String(err));
    assert.equal(err.code, code);
    assert.match(err.message, message);
    return true;
  });

describe('OptimizeService', () => {
  let dir: string;
  let registry: Registry;
  let service: OptimizeService;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ferry-optimize-'));
    registry = openRegistry({ ...DEFAULT_CONFIG, data: dir });
    for (const spec of [MLP, CNN]) await registerTrained(registry, spec, await runTraining({ spec }));
    await registry.pushFile('foreign', writeTemp('foreign.onnx', mlpModel({ inputs: 4, hidden: 3, outputs: 2 })));
    service = new OptimizeService(registry, { baseDir: dir, threads: 1, trainingThreads: 1, latency: { budgetMs: 50, minRuns: 3, warmup: 1 } });
  });
  after(async () => {
    await service.close();
    await registry.meta.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const writeTemp = (name: string, bytes: Uint8Array | string) => {
    const file = path.join(dir, name);
    writeFileSync(file, bytes);
    return file;
  };

  it('int8 dynamic: a new version with lineage, a report against the original, and "prod" pinned to what served before', async () => {
    const out = await service.optimize('mlp', '1', { int8: 'dynamic' });
    const { version: v, report: r } = out;
    assert.equal(v.version, 2);
    assert.deepEqual(v.metadata['lineage'], { parent: { model: 'mlp', version: 1 }, transformation: 'int8-dynamic' });
    assert.deepEqual((v.metadata['optimization'] as { size: unknown }).size, r.size, 'the report is in the version\'s metadata');
    assert.ok(r.size.ratio > 3.5, `size ratio ${r.size.ratio}`);
    assert.equal(r.size.variantBytes, v.sizeBytes);
    assert.deepEqual(r.latency.batches.map((b) => b.batch), [1, 64]);
    for (const b of r.latency.batches) assert.ok(b.originalMs > 0 && b.variantMs > 0 && b.runs >= 3, JSON.stringify(b));
    assert.ok(r.accuracy.measured);
    assert.equal(r.accuracy.examples, 300);
    assert.match(r.accuracy.dataset, /mnist.*test split, 300 examples/);
    assert.ok(r.accuracy.original > 0.7, `trained to ${r.accuracy.original}`);
    assert.ok(Math.abs(r.accuracy.deltaPoints) <= 1.5, `int8 moved accuracy by ${r.accuracy.deltaPoints} points`);
    assert.equal(r.withinTolerance, -r.accuracy.deltaPoints <= 0.5);
    assert.deepEqual(r.steps[0]!['quantized'], ['MatMul_0', 'MatMul_3']);
    assert.deepEqual(out.pinned, { alias: 'prod', version: 1 });
    assert.equal((await registry.resolve('mlp')).version, 1, 'unversioned requests still get version 1');
    assert.equal(out.deployed, null);
  });

  it('moves the alias it is asked to when the variant is within tolerance (fp16)', async () => {
    const out = await service.optimize('mlp', '1', { fp16: true, deploy: 'canary', tolerance: 1 });
    assert.equal(out.report.transformation, 'fp16');
    assert.ok(out.report.size.ratio > 1.9, `fp16 halves the weights: ${out.report.size.ratio}`);
    assert.equal(out.report.withinTolerance, true);
    assert.deepEqual(out.deployed, { alias: 'canary', version: out.version.version });
    assert.equal((await registry.model('mlp')).aliases['canary'], out.version.version);
    assert.equal(out.pinned, undefined, '"prod" was already there');
  });

  it('registers a variant past the tolerance marked as such and leaves the alias alone', async () => {
    const out = await service.optimize('mlp', '1', { prune: { amount: 0.95 }, tolerance: 0, deploy: 'canary' });
    const r = out.report;
    assert.ok(r.accuracy.measured && r.accuracy.deltaPoints < 0, JSON.stringify(r.accuracy));
    assert.equal(r.withinTolerance, false);
    assert.equal(out.deployed, null);
    assert.match(out.notDeployed!, /lost [\d.]+ accuracy points, more than the tolerance of 0; alias "canary" was not moved/);
    assert.notEqual((await registry.model('mlp')).aliases['canary'], out.version.version);
    assert.equal((out.version.metadata['optimization'] as { withinTolerance: boolean }).withinTolerance, false);
  });

  it('prunes half the weights, fine-tunes with them held at zero, and reports both sparsities', async () => {
    const out = await service.optimize('mlp', '1', { prune: { amount: 0.5, fineTune: { epochs: 1 } }, tolerance: 2 });
    const r = out.report;
    assert.equal(r.transformation, 'prune-0.5-unstructured+fine-tune');
    assert.deepEqual(out.version.metadata['lineage'], { parent: { model: 'mlp', version: 1 }, transformation: 'prune-0.5-unstructured+fine-tune' });
    const [prune, tune] = r.steps;
    assert.equal(prune!['sparsity'], 0.5);
    assert.equal(typeof prune!['accuracyBeforeFineTune'], 'number');
    assert.equal(tune!['sparsityAfter'], 0.5);
    assert.ok(r.accuracy.measured && r.accuracy.deltaPoints > -2, JSON.stringify(r.accuracy));
    const file = await registry.artifacts.localPath(out.version.artifactKey);
    const { readFile } = await import('node:fs/promises');
    const w = readFloatInitializers(new Uint8Array(await readFile(file))).get('0.weight')!.data;
    assert.equal(w.filter((x) => x === 0).length, w.length / 2);
    assert.deepEqual((out.version.metadata['training'] as { parent: unknown }).parent, { model: 'mlp', version: 1 }, 'the fine-tune\'s record names its parent');
  });

  it('a later fine-tune of a pruned version (training spec "from") keeps its zeros', async () => {
    const pruned = await service.optimize('mlp', '1', { prune: { amount: 0.5 }, tolerance: 100 });
    const ref = `mlp:${pruned.version.version}`;
    const parent = await resolveParent(registry, ref);
    assert.deepEqual([...parent.pruned!].sort(), ['0.weight', '2.weight']);
    const before = readFloatInitializers(parent.onnx).get('0.weight')!.data;
    const tuned = await runTraining({ spec: { ...MLP, name: 'mlp-tuned', from: ref, epochs: 1 }, parent });
    const after = readFloatInitializers(tuned.onnx).get('0.weight')!.data;
    const zerosKept = before.every((x, i) => x !== 0 || after[i] === 0);
    assert.ok(zerosKept, 'every pruned weight is still exactly 0');
    assert.ok(after.some((x, i) => before[i] !== 0 && x !== before[i]), 'the kept weights did train');
    // a parent that was not pruned trains every weight
    const plain = await resolveParent(registry, 'mlp:1');
    assert.deepEqual(plain.pruned, []);
  });

  it('int8 static calibrates on the model\'s training split and accounts for every Conv and MatMul', async () => {
    const out = await service.optimize('cnn', undefined, { int8: 'static' });
    const q = out.report.steps[0]!;
    assert.equal(q.transformation, 'int8-static');
    const quantized = q['quantized'] as string[];
    const skipped = q['skipped'] as { node: string; reason: string }[];
    assert.ok(quantized.includes('MatMul_4'), JSON.stringify(q));
    // the quantizer may leave a Conv too small to gain from int8 in float, and must then say why
    assert.ok(quantized.includes('Conv_0') || skipped.some((s) => s.node === 'Conv_0' && s.reason.length > 10), JSON.stringify(q));
    assert.deepEqual(q['calibration'], { source: 'mnist (training split, the model\'s training dataset)', examples: 256 });
    assert.ok(out.report.accuracy.measured && Math.abs(out.report.accuracy.deltaPoints) <= 2, JSON.stringify(out.report.accuracy));
  });

  it('a model Ferry did not train: dynamic int8 works with accuracy not measured and the reason; static needs a calibration set', async () => {
    const out = await service.optimize('foreign', '1', { int8: 'dynamic', deploy: 'prod' });
    assert.deepEqual(out.report.accuracy, { measured: false, reason: 'foreign:1 records no training dataset (Ferry did not train it); send "evaluation": {"dataset": {...}} (a labelled dataset spec) to measure accuracy' });
    assert.equal(out.report.withinTolerance, null);
    assert.match(out.notDeployed!, /accuracy was not measured .*alias "prod" was not moved/);
    assert.equal((await registry.resolve('foreign')).version, 1);

    const versions = (await registry.model('foreign')).versions.length;
    await rejectsWith(service.optimize('foreign', '1', { int8: 'static' }), 'INVALID_ARGUMENT',
      /static int8 quantization needs a calibration set, and foreign:1 records no training dataset .* send "calibration": \{"dataset": \{\.\.\.\}\} or \{"file": "inputs.json"\}/);
    await rejectsWith(service.optimize('foreign', '1', { prune: { amount: 0.5, fineTune: { epochs: 1 } } }), 'INVALID_ARGUMENT', /fineTune needs the model's training spec/);
    // a calibration file of input tensors does it
    const calib = writeTemp('calib.json', JSON.stringify({ input: { shape: [3, 4], data: [0, 1, 2, 3, 1, 1, 1, 1, -1, 0, 1, 2] } }));
    const s = await service.optimize('foreign', '1', { int8: 'static', calibration: { file: calib } });
    assert.deepEqual(s.report.steps[0]!['calibration'], { source: `file ${calib}`, examples: 3 });
    assert.equal((await registry.model('foreign')).versions.length, versions + 1);
    await rejectsWith(service.optimize('foreign', '1', { int8: 'static', calibration: { file: writeTemp('bad.json', '{"x": 1}') } }), 'INVALID_ARGUMENT',
      /needs input "input" as \{"shape": \[N, \.\.\.\], "data": \[numbers\]\}; the model's inputs: \{"input": \{"shape": \[N, 4\]/);
  });

  it('refuses bad requests naming the field, and models with nothing to quantize naming their ops', async () => {
    await rejectsWith(service.optimize('mlp', '1', {}), 'INVALID_ARGUMENT', /name a transformation: int8, fp16 or prune/);
    await rejectsWith(service.optimize('mlp', '1', { int8: 'int4' }), 'INVALID_ARGUMENT', /int8 must be "dynamic" or "static", got "int4"/);
    await rejectsWith(service.optimize('mlp', '1', { int8: 'dynamic', fp16: true }), 'INVALID_ARGUMENT', /ask for one of them/);
    await rejectsWith(service.optimize('mlp', '1', { prune: { amount: 50 } }), 'INVALID_ARGUMENT', /prune.amount must be a fraction between 0 and 1/);
    await rejectsWith(service.optimize('mlp', '1', { int8: 'dynamic', deploy: 'Prod!' }), 'INVALID_ARGUMENT', /alias "Prod!" is not allowed/);
    await rejectsWith(service.optimize('mlp', '9', { int8: 'dynamic' }), 'NOT_FOUND', /has no version 9/);
    const { GraphBuilder } = await import('../../src/graph/builder.js');
    const relu = new GraphBuilder().input('x', 'FP32', ['batch', 4]).node('Relu', ['x'], ['y']).node('Sigmoid', ['y'], ['z']).output('z', 'FP32', ['batch', 4]).build();
    await registry.pushFile('plain', writeTemp('plain.onnx', relu));
    await rejectsWith(service.optimize('plain', '1', { int8: 'dynamic' }), 'INVALID_ARGUMENT', /nothing to quantize: .*this model has only Relu, Sigmoid/);
    assert.deepEqual((await registry.model('plain')).versions, [1], 'nothing registered');
  });

  it('a run cancelled part-way registers nothing', async () => {
    const before = (await registry.model('mlp')).versions;
    const ac = new AbortController();
    await rejectsWith(service.optimize('mlp', '1', { int8: 'dynamic' }, { signal: ac.signal, onPhase: (p) => p === 'measuring' && ac.abort() }), 'CANCELLED', /cancelled; nothing was registered/);
    assert.deepEqual((await registry.model('mlp')).versions, before);
  });
});

describe('the pieces a report is made of', () => {
  it('feeds dataset rows in the shape and dtype the model takes, or says why not', () => {
    const sig = (shape: number[], dtype: 'FP32' | 'INT64' = 'FP32') => ({ inputs: [{ name: 'input', dtype, shape }], outputs: [] });
    assert.deepEqual(modelInput(sig([-1, 1, 28, 28]), 784), { name: 'input', dtype: 'FP32', exampleShape: [1, 28, 28] });
    assert.deepEqual(modelInput(sig([-1, -1], 'INT64'), 128, [128]), { name: 'input', dtype: 'INT64', exampleShape: [128] }, 'a text model: the recorded shape');
    assert.equal(modelInput(sig([-1, 10]), 784), 'the model\'s input "input" has shape [-1, 10], which examples of 784 values do not fit');
    assert.match(String(modelInput({ inputs: [sig([-1, 4]).inputs[0]!, { name: 'state', dtype: 'FP32', shape: [2] }], outputs: [] }, 4)), /takes 2 inputs \(input, state\)/);
  });

  it('judges tolerance in points lost, with unmeasured accuracy never within it', () => {
    const a = (deltaPoints: number) => ({ measured: true as const, dataset: 'd', examples: 1, original: 0.9, variant: 0.9, deltaPoints });
    assert.equal(withinTolerance(a(-0.5), 0.5), true);
    assert.equal(withinTolerance(a(-0.51), 0.5), false);
    assert.equal(withinTolerance(a(2), 0), true, 'a variant that gained is within any tolerance');
    assert.equal(withinTolerance({ measured: false, reason: 'r' }, 0.5), null);
  });

  it('names transformations in the order they run', () => {
    assert.equal(transformationName({ prune: { amount: 0.5, structured: true, fineTune: { epochs: 1 } }, int8: 'static' }), 'prune-0.5-structured+fine-tune+int8-static');
    assert.equal(transformationName({ fp16: true }), 'fp16');
  });
});
