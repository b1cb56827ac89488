// From a JSON layer list to modules.
import type { LayerSpec } from '../spec.js';
import {
  AvgPool2d, Conv2d, Dropout, Embedding, Flatten, GELU, LayerNorm, Linear, MaxPool2d, ReLU, Sequential, Sigmoid, Softmax, Tanh,
} from './layers.js';
import type { Module } from './module.js';
import { SkipGram } from './skipgram.js';
import { TransformerEncoder } from './transformer.js';

export function buildModule(spec: LayerSpec): Module {
  switch (spec.type) {
    case 'Linear': return new Linear(spec.in, spec.out, spec.bias ?? true);
    case 'Conv2d': return new Conv2d(spec.in, spec.out, spec.kernel, spec);
    case 'MaxPool2d': return new MaxPool2d(spec.kernel, spec.stride, spec.padding);
    case 'AvgPool2d': return new AvgPool2d(spec.kernel, spec.stride, spec.padding);
    case 'Flatten': return new Flatten();
    case 'ReLU': return new ReLU();
    case 'Tanh': return new Tanh();
    case 'Sigmoid': return new Sigmoid();
    case 'GELU': return new GELU();
    case 'Softmax': return new Softmax(spec.axis ?? -1);
    case 'Dropout': return new Dropout(spec.p ?? 0.5);
    case 'Embedding': return new Embedding(spec.num, spec.dim);
    case 'LayerNorm': return new LayerNorm(spec.dim, spec.eps ?? 1e-5);
    case 'Sequential': return buildNetwork(spec.layers);
    case 'TransformerEncoder': return new TransformerEncoder(spec);
    case 'SkipGram': return new SkipGram(spec.vocab, spec.dim);
  }
}

export const buildNetwork = (layers: readonly LayerSpec[]): Sequential => new Sequential(layers.map(buildModule));
