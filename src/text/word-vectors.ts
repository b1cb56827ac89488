// Serving trained word vectors: one ONNX graph that looks words up (ids → unit vectors) and finds
// each one's nearest neighbours by cosine similarity (a matrix product with the whole table and
// TopK), with the vocabulary in its metadata so Ferry serves it from strings.
import { FerryError } from '../core/errors.js';
import type { NamedTensors } from '../core/tensor.js';
import { attr, GraphBuilder } from '../graph/builder.js';
import { encodeModel } from '../graph/onnx.js';
import type { LoadedModel, Signature } from '../runtimes/runtime.js';

export const NEIGHBOURS = 10;

export function wordVectorModel(table: Float32Array, vocabulary: readonly string[], record?: object): Uint8Array {
  const v = vocabulary.length;
  const d = table.length / v;
  const unit = table.slice();
  for (let i = 0; i < v; i++) {
    let n = 0;
    for (let k = 0; k < d; k++) n += unit[i * d + k]! ** 2;
    n = Math.sqrt(n) || 1;
    for (let k = 0; k < d; k++) unit[i * d + k]! /= n;
  }
  const transposed = new Float32Array(v * d);
  for (let i = 0; i < v; i++) for (let k = 0; k < d; k++) transposed[k * v + i] = unit[i * d + k]!;
  const b = new GraphBuilder({ name: 'word_vectors' })
    .input('input', 'INT64', ['batch'])
    .initializer('vectors', 'FP32', [v, d], unit)
    .initializer('vectors_t', 'FP32', [d, v], transposed)
    .initializer('k', 'INT64', [1], BigInt64Array.of(BigInt(Math.min(NEIGHBOURS + 1, v))))
    .node('Gather', ['vectors', 'input'], ['embedding'], { axis: attr.int(0) })
    .node('MatMul', ['embedding', 'vectors_t'], ['cosine'])
    .node('TopK', ['cosine', 'k'], ['similarity', 'neighbors'], { axis: attr.int(-1), largest: attr.int(1), sorted: attr.int(1) })
    .output('embedding', 'FP32', ['batch', d])
    .output('similarity', 'FP32', ['batch', -1])
    .output('neighbors', 'INT64', ['batch', -1]);
  const model = b.model();
  model.metadataProps = [
    { key: 'ferry.task', value: 'word-embedding' },
    { key: 'ferry.vocab', value: JSON.stringify(vocabulary) },
    ...(record ? [{ key: 'ferry.training', value: JSON.stringify(record) }] : []),
  ];
  return encodeModel(model);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

/** Words in, unit vectors and nearest neighbours (the word itself left out) out. */
export class WordVectors implements LoadedModel {
  readonly signature: Signature;
  private readonly ids: Map<string, number>;

  constructor(private readonly inner: LoadedModel, private readonly vocabulary: readonly string[]) {
    this.ids = new Map(vocabulary.map((w, i) => [w, i]));
    const d = inner.signature.outputs.find((o) => o.name === 'embedding')?.shape.at(-1) ?? -1;
    this.signature = {
      inputs: [{ name: 'text', dtype: 'BYTES', shape: [-1] }],
      outputs: [
        { name: 'embedding', dtype: 'FP32', shape: [-1, d] },
        { name: 'neighbors', dtype: 'BYTES', shape: [-1, NEIGHBOURS] },
        { name: 'similarity', dtype: 'FP32', shape: [-1, NEIGHBOURS] },
        { name: 'tokens', dtype: 'INT64', shape: [-1] },
      ],
    };
  }

  check(inputs: NamedTensors): void {
    this.wordIds(inputs);
  }

  /** the id of each word, refusing words outside the vocabulary */
  private wordIds(inputs: NamedTensors): number[] {
    const t = inputs['text'];
    if (!t || t.dtype !== 'BYTES') throw new FerryError('INVALID_ARGUMENT', 'send the words as a BYTES tensor named "text" with shape [n]');
    return (t.data as Uint8Array[]).map((b, i) => {
      let w: string;
      try {
        w = utf8.decode(b).trim().toLowerCase();
      } catch {
        throw new FerryError('INVALID_ARGUMENT', `word ${i} is not valid UTF-8`);
      }
      const id = this.ids.get(w);
      if (id === undefined) throw new FerryError('INVALID_ARGUMENT', `"${w.slice(0, 50)}" is not in this model's vocabulary of ${this.vocabulary.length} words; send one lowercase word per text`);
      return id;
    });
  }

  async infer(inputs: NamedTensors): Promise<NamedTensors> {
    const words = this.wordIds(inputs);
    const out = await this.inner.infer({ input: { dtype: 'INT64', shape: [words.length], data: BigInt64Array.from(words, BigInt) } });
    const kk = out['neighbors']!.shape[1]!;
    const sims = out['similarity']!.data as Float32Array;
    const idx = out['neighbors']!.data as BigInt64Array;
    const names: Uint8Array[] = [];
    const scores = new Float32Array(words.length * NEIGHBOURS).fill(Number.NaN);
    words.forEach((self, i) => {
      let j = 0;
      for (let r = 0; r < kk && j < NEIGHBOURS; r++) {
        const id = Number(idx[i * kk + r]!);
        if (id === self) continue;
        names.push(utf8Encoder.encode(this.vocabulary[id]!));
        scores[i * NEIGHBOURS + j] = sims[i * kk + r]!;
        j++;
      }
      for (; j < NEIGHBOURS; j++) names.push(new Uint8Array(0));
    });
    return {
      embedding: out['embedding']!,
      neighbors: { dtype: 'BYTES', shape: [words.length, NEIGHBOURS], data: names },
      similarity: { dtype: 'FP32', shape: [words.length, NEIGHBOURS], data: scores },
      tokens: { dtype: 'INT64', shape: [words.length], data: new BigInt64Array(words.length).fill(1n) },
    };
  }

  unload(): Promise<void> {
    return this.inner.unload();
  }
}
