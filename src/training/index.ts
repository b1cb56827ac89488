// The training engine's TypeScript API in one import: layers and modules to write a network with,
// the tensor functions a custom module's forward pass uses, and the functions that train it.
//
//   class Residual extends Module {
//     readonly kind = 'Residual';
//     constructor(readonly inner: Module) { super(); }
//     override children(): [string, Module][] { return [['inner', this.inner]]; }
//     forward(x: Value, ctx: ForwardContext): Value { return F.add(x, this.inner.forward(x, ctx)); }
//   }
//   const network = new Sequential([new Linear(784, 64), new Residual(new Sequential([new Linear(64, 64), new GELU()])), new Linear(64, 10)]);
//   const { onnx, metrics } = await runTraining({ spec: { ...RECIPES['mnist-mlp']!, name: 'res' }, network });
export * as F from './autodiff/fn.js';
export type { Value } from './autodiff/tape.js';
export {
  AvgPool2d, Conv2d, Dropout, Embedding, Flatten, GELU, LayerNorm, Linear, MaxPool2d, ReLU, Sequential, Sigmoid, Softmax, Tanh,
} from './nn/layers.js';
export { DecoderLM, type DecoderLMOptions } from './nn/decoder.js';
export { VAE, type VAEOptions } from './nn/vae.js';
export { Module, Parameter, uniformFanIn, normalInit, constantInit, type ForwardContext, type Objective, type ServedInput } from './nn/module.js';
export type { LossName } from './nn/losses.js';
export type { OptimizerSpec } from './nn/optimizers.js';
export type { ScheduleSpec } from './nn/schedules.js';
export { loadDataset } from './data/load.js';
export type { Dataset, DatasetSpec, Examples } from './data/dataset.js';
export { RECIPES } from './recipes.js';
export { parseSpec, type TrainSpec, type LayerSpec } from './spec.js';
export { train, type TrainInput, type TrainResult, type StepProgress } from './trainer.js';
export { runTraining, registerTrained } from './run.js';
