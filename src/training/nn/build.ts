// From a JSON layer list to modules.
import { shapeError } from '../autodiff/tape.js';
import type { LayerSpec } from '../spec.js';
import {
  AvgPool2d, Conv2d, Dropout, Embedding, Flatten, GELU, LayerNorm, Linear, MaxPool2d, ReLU, Sequential, Sigmoid, Softmax, Tanh,
} from './layers.js';
import { DecoderLM } from './decoder.js';
import type { Module } from './module.js';
import { SkipGram } from './skipgram.js';
import { TransformerEncoder } from './transformer.js';
import { VAE } from './vae.js';

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
    case 'DecoderLM': return new DecoderLM(spec);
    case 'SkipGram': return new SkipGram(spec.vocab, spec.dim);
    case 'VAE': return new VAE(spec);
  }
}

export const buildNetwork = (layers: readonly LayerSpec[]): Sequential => new Sequential(layers.map(buildModule));

/** The network a spec's model list describes: its layers in a Sequential, except that a DecoderLM —
 *  a whole language model — stands alone, so its parameters carry the names a GGUF exporter maps
 *  ('tokens', 'blocks.0.attention.q.weight', …) rather than '0.tokens'; so does a VAE, whose own
 *  objective and served decoder a Sequential would hide. */
export function buildModel(layers: readonly LayerSpec[]): Module {
  const whole = layers.find((l) => l.type === 'DecoderLM' || l.type === 'VAE');
  if (!whole) return buildNetwork(layers);
  if (layers.length !== 1) {
    throw shapeError(whole.type === 'VAE'
      ? 'a VAE is a whole generative model (images in, its own objective, a decoder served): make it the only layer of the model'
      : 'a DecoderLM is a whole language model (token ids in, next-token logits out): make it the only layer of the model');
  }
  return buildModule(whole);
}
