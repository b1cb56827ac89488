// parseSpec: the built-in recipes pass, and every mistake a user can make in a spec is reported with
// the path of the field and what to send instead — as a FerryError, never a TypeError.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FerryError } from '../../src/core/errors.js';
import { Tape } from '../../src/training/autodiff/tape.js';
import { buildNetwork } from '../../src/training/nn/build.js';
import { RECIPES } from '../../src/training/recipes.js';
import { parseSpec } from '../../src/training/spec.js';

const base = RECIPES['mnist-mlp']!;
const withField = (patch: Record<string, unknown>): unknown => ({ ...base, ...patch });
const withOptimizer = (o: Record<string, unknown>): unknown => withField({ optimizer: o });
const withLayers = (...layers: unknown[]): unknown => withField({ model: layers });

/** parseSpec must refuse `raw` with an INVALID_ARGUMENT whose message matches every pattern. */
function rejects(raw: unknown, ...patterns: RegExp[]): void {
  assert.throws(() => parseSpec(raw), (err: unknown) => {
    assert.ok(err instanceof FerryError, `a FerryError, got ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
    assert.equal(err.code, 'INVALID_ARGUMENT');
    assert.match(err.message, /^training spec: /);
    for (const p of patterns) assert.match(err.message, p);
    return true;
  });
}

describe('parseSpec accepts', () => {
  for (const [name, recipe] of Object.entries(RECIPES)) {
    it(`the ${name} recipe, unchanged, and a JSON round trip of it`, () => {
      assert.equal(parseSpec(recipe), recipe);
      assert.deepEqual(parseSpec(JSON.parse(JSON.stringify(recipe))), recipe);
    });

    it(`the ${name} recipe's model fits its input and outputs one logit per class`, () => {
      const tape = new Tape();
      let n = 0;
      const net = buildNetwork(recipe.model);
      const d = recipe.dataset;
      const input = recipe.input ?? (d.type === 'skipgram' ? [2 + (d.negatives ?? 5)] : d.type === 'spam-assassin-lm' ? [d.context] : [(d as { maxLength: number }).maxLength]);
      const out = net.forward(tape.input('input', [-1, ...input], net.inputType), {
        training: true, param: (p) => tape.input(`p${n++}`, p.shape), dropoutMask: (s) => tape.input(`m${n++}`, s), normalNoise: (s) => tape.input(`e${n++}`, s),
      });
      // MNIST: 10 digits; spam: ham/spam; word2vec: one score per (center, context|negative) pair;
      // tiny-gpt: a next-character logit per position for each of 3 + 256 + 128 tokens; mnist-vae
      // has no classes: its forward pass is the digit's reconstruction
      const expected = name === 'tiny-gpt' ? [-1, 128, 387] : name === 'mnist-vae' ? [-1, 1, 28, 28] : [-1, name.startsWith('mnist') ? 10 : name === 'word2vec' ? 6 : 2];
      assert.deepEqual(out.shape, expected);
    });
  }

  it('every optional field a user may set', () => {
    const spec = {
      ...base, description: 'x', input: [1, 28, 28], from: 'mnist-mlp:1', freeze: ['0.'],
      schedule: { type: 'cosine', minLr: 1e-5, warmupSteps: 100 },
      optimizer: { type: 'adamw', lr: 1e-3, betas: [0.9, 0.98], eps: 1e-6, weightDecay: 0.05 },
      model: [
        { type: 'Conv2d', in: 1, out: 4, kernel: [3, 3], stride: 2, padding: [1, 1], dilation: 1, bias: false },
        { type: 'MaxPool2d', kernel: 2, stride: 2, padding: 0 }, { type: 'AvgPool2d', kernel: 1 },
        { type: 'Flatten' }, { type: 'Dropout', p: 0.1 },
        { type: 'Sequential', layers: [{ type: 'Linear', in: 196, out: 32, bias: true }, { type: 'LayerNorm', dim: 32, eps: 1e-6 }, { type: 'GELU' }] },
        { type: 'Linear', in: 32, out: 10 }, { type: 'Softmax', axis: -1 },
      ],
    };
    assert.deepEqual(parseSpec(spec), spec);
    parseSpec(withOptimizer({ type: 'sgd', lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-4 }));
    parseSpec(withField({ schedule: { type: 'step', everyEpochs: 2, gamma: 0.5 } }));
  });
});

describe('parseSpec rejects, naming the path and the fix', () => {
  it('something that is not an object', () => {
    for (const raw of [null, [], 'mnist-mlp', 3]) rejects(raw, /must be a JSON object with name, dataset, model/);
  });

  it('an unknown layer type, listing the known layers', () => {
    rejects(withLayers({ type: 'Linear', in: 784, out: 10 }, { type: 'Relu' }),
      /model\[1\]\.type "Relu" is not a known layer/, /known layers: Linear, Conv2d, .*ReLU.*Sequential/);
    rejects(withLayers({ type: 'Sequential', layers: [{ type: 'Linear', in: 784, out: 10 }, { type: 'Dense' }] }),
      /model\[0\]\.layers\[1\]\.type "Dense" is not a known layer/);
    rejects(withLayers({ in: 784, out: 10 }), /model\[0\]\.type undefined is not a known layer/);
  });

  it('a layer type that is an Object.prototype key, like any other unknown type', () => {
    rejects(withLayers({ type: 'toString' }), /model\[0\]\.type "toString" is not a known layer/);
    rejects(withLayers({ type: 'constructor' }), /model\[0\]\.type "constructor" is not a known layer/);
  });

  it('an unknown field, listing the known ones', () => {
    rejects(withField({ epoch: 3 }), /spec\.epoch is not a known field/, /known fields: name, description, dataset, .*epochs/);
    rejects(withLayers({ type: 'Linear', inFeatures: 784, out: 10 }), /model\[0\] \(Linear\)\.inFeatures is not a known field; known fields: type, in, out, bias/);
    rejects(withOptimizer({ type: 'adam', lr: 1e-3, momentum: 0.9 }), /optimizer\.momentum is not a known field; known fields: type, lr, betas, eps, weightDecay/);
    rejects(withField({ schedule: { type: 'cosine', gamma: 0.5 } }), /schedule\.gamma is not a known field; known fields: type, warmupSteps, minLr/);
  });

  it('a missing required field', () => {
    rejects(withLayers({ type: 'Linear', in: 784 }), /model\[0\]\.out is required for Linear/);
    rejects(withLayers({ type: 'Conv2d', in: 1, out: 4 }), /model\[0\]\.kernel is required for Conv2d/);
    rejects(withLayers({ type: 'Sequential' }), /model\[0\]\.layers is required for Sequential/);
    rejects(withField({ name: undefined }), /name must be the model name/);
    rejects(withField({ epochs: undefined }), /epochs must be a positive integer, got undefined/);
    rejects(withField({ loss: undefined }), /loss must be one of crossEntropy, mse, binaryCrossEntropy/);
    rejects(withOptimizer({ type: 'adam' }), /optimizer\.lr must be a positive number, got undefined/);
    rejects(withField({ schedule: { type: 'step', gamma: 0.5 } }), /schedule\.everyEpochs must be a positive integer/);
    rejects(withField({ model: [] }), /model must be a non-empty list of layers, e\.g\./);
  });

  it('a learning rate that is zero, negative, a string or not finite', () => {
    rejects(withOptimizer({ type: 'adam', lr: 0 }), /optimizer\.lr must be a positive number, got 0/);
    rejects(withOptimizer({ type: 'sgd', lr: -0.1 }), /optimizer\.lr must be a positive number, got -0\.1/);
    rejects(withOptimizer({ type: 'adam', lr: '1e-3' }), /optimizer\.lr must be a positive number, got "1e-3"/);
    rejects(withOptimizer({ type: 'adam', lr: 'NaN' }), /optimizer\.lr must be a positive number, got "NaN"/);
    rejects(withOptimizer({ type: 'adam', lr: Number.NaN }), /optimizer\.lr must be a positive number/);
    rejects(withOptimizer({ type: 'adam', lr: Infinity }), /optimizer\.lr must be a positive number/);
  });

  it('epochs, batchSize or seed that are not whole numbers in range', () => {
    for (const epochs of [0, -1, 2.5, '3', null]) rejects(withField({ epochs }), /^training spec: epochs must be a positive integer, got /);
    for (const batchSize of [0, 1.5, '64']) rejects(withField({ batchSize }), /batchSize must be a positive integer/);
    for (const seed of [-1, 0.5, '0']) rejects(withField({ seed }), /seed must be an integer ≥ 0/);
  });

  it('an unknown optimizer, schedule, loss or dataset type, listing the known ones', () => {
    rejects(withOptimizer({ type: 'rmsprop', lr: 0.01 }), /optimizer\.type must be one of sgd, adam, adamw, got "rmsprop"/);
    rejects(withOptimizer({ type: 'constructor', lr: 0.01 }), /optimizer\.type must be one of sgd, adam, adamw/);
    rejects(withField({ optimizer: undefined }), /optimizer\.type must be one of sgd, adam, adamw, got undefined/);
    rejects(withField({ schedule: { type: 'linear' } }), /schedule\.type must be one of constant, step, exponential, cosine/);
    rejects(withField({ schedule: { type: 'toString' } }), /schedule\.type must be one of constant, step, exponential, cosine/);
    rejects(withField({ loss: 'nll' }), /loss must be one of crossEntropy, mse, binaryCrossEntropy, elbo, got "nll"/);
    rejects(withField({ dataset: { type: 'parquet', path: 'x.parquet' } }), /dataset\.type must be one of mnist, idx, jsonl, csv, images, spam-assassin, spam-assassin-lm, skipgram, got "parquet"/);
    rejects(withField({ dataset: 'mnist' }), /dataset\.type must be one of mnist, idx, jsonl, csv, images, spam-assassin, spam-assassin-lm, skipgram, got "mnist"/);
  });

  it('optimizer and schedule settings out of range', () => {
    rejects(withOptimizer({ type: 'sgd', lr: 0.1, momentum: 1 }), /optimizer\.momentum must be in \[0, 1\)/);
    rejects(withOptimizer({ type: 'sgd', lr: 0.1, weightDecay: -1 }), /optimizer\.weightDecay must be ≥ 0/);
    rejects(withOptimizer({ type: 'adam', lr: 0.1, betas: [0.9] }), /optimizer\.betas must be two numbers in \[0, 1\), e\.g\. \[0\.9, 0\.999\]/);
    rejects(withField({ schedule: { type: 'exponential', gamma: 0 } }), /schedule\.gamma must be a positive number/);
  });

  it('settings that would otherwise turn into NaN or a silent surprise during training', () => {
    rejects(withOptimizer({ type: 'adam', lr: 0.1, eps: 'x' }), /optimizer\.eps must be a positive number/);
    rejects(withOptimizer({ type: 'adam', lr: 0.1, eps: -1e-8 }), /optimizer\.eps must be a positive number/);
    rejects(withOptimizer({ type: 'sgd', lr: 0.1, momentum: 0.9, nesterov: 'yes' }), /optimizer\.nesterov must be true or false/);
    rejects(withField({ schedule: { type: 'constant', warmupSteps: -3 } }), /schedule\.warmupSteps must be an integer ≥ 0/);
    rejects(withField({ schedule: { type: 'cosine', minLr: -0.1 } }), /schedule\.minLr must be a number ≥ 0/);
    rejects(withLayers({ type: 'Linear', in: 784, out: 10, bias: 'no' }), /model\[0\]\.bias must be true or false/);
  });

  it('layer sizes that are not positive integers, and a dropout rate out of range', () => {
    rejects(withLayers({ type: 'Linear', in: 0, out: 10 }), /model\[0\]\.in must be a positive integer, got 0/);
    rejects(withLayers({ type: 'Linear', in: 784, out: '10' }), /model\[0\]\.out must be a positive integer, got "10"/);
    rejects(withLayers({ type: 'Conv2d', in: 1, out: 4, kernel: [3] }), /model\[0\]\.kernel must be an integer ≥ 1 or a pair of them, got \[3\]/);
    rejects(withLayers({ type: 'MaxPool2d', kernel: 2, padding: -1 }), /model\[0\]\.padding must be an integer ≥ 0/);
    rejects(withLayers({ type: 'Dropout', p: 1 }), /model\[0\]\.p must be a dropout rate in \[0, 1\)/);
  });

  it('input, from and freeze of the wrong shape', () => {
    rejects(withField({ input: [28, 0] }), /input must be a list of positive sizes such as \[1, 28, 28\], got \[28,0\]/);
    rejects(withField({ from: '' }), /from must name a registered version, e\.g\. 'mnist-mlp:1'/);
    rejects(withField({ freeze: '0.' }), /freeze must be a list of parameter name prefixes, e\.g\. \['0\.'\]/);
  });
});
