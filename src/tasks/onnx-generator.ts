// Ferry's own generation loop over an ONNX decoder with a KV cache (src/llm/onnx-export.ts): the
// prompt runs once, then one token at a time with the cache, sampled in JS (src/tasks/sampling.ts).
// Serves Ferry-trained text-generation models through the same OpenAI endpoints as GGUF ones. Each
// request runs its own loop; `parallel` of them interleave, the rest wait in a bounded queue.
import { readFile } from 'node:fs/promises';
import { FerryError } from '../core/errors.js';
import type { NamedTensors, Tensor } from '../core/tensor.js';
import { inspectOnnx } from '../graph/onnx.js';
import { decoderMetadata } from '../llm/decoder-exports.js';
import { PLAIN_CHAT_TEMPLATE, type DecoderConfig } from '../llm/gguf/llama-export.js';
import { pastKey, pastValue, presentKey, presentValue } from '../llm/onnx-export.js';
import type { LoadedModel, Runtime } from '../runtimes/runtime.js';
import { CharVocab } from '../text/char-vocab.js';
import type { GeneratedToken, GenerateRequest, GenerativeModel, GenerativeRuntime } from './generation.js';
import { logSoftmax, sample, seededRandom } from './sampling.js';
import { Slots } from './slots.js';

export class OnnxGenerativeRuntime implements GenerativeRuntime {
  constructor(private readonly onnx: Runtime) {}

  async load(path: string, opts: { parallel: number; maxQueue: number; threads: number }): Promise<GenerativeModel> {
    const meta = inspectOnnx(new Uint8Array(await readFile(path))).metadata;
    const { cfg: shape, vocab } = decoderMetadata(meta);
    const model = await this.onnx.load({ path, format: 'onnx' }, { intraOpThreads: opts.threads });
    if (!model.signature.inputs.some((i) => i.name === pastKey(0))) {
      await model.unload();
      throw new FerryError('INVALID_ARGUMENT', 'this text-generation model has no KV cache inputs (past_key.0 …); export it with Ferry\'s llamaOnnx');
    }
    return new OnnxGenerator(model, vocab, shape, new Slots(opts.parallel, opts.maxQueue));
  }
}

class OnnxGenerator implements GenerativeModel {
  readonly contextLength: number;
  readonly chatTemplate = PLAIN_CHAT_TEMPLATE;
  readonly bosToken = '<s>';
  readonly eosToken = '</s>';

  constructor(private readonly model: LoadedModel, private readonly vocab: CharVocab, private readonly shape: DecoderConfig, private readonly slots: Slots) {
    this.contextLength = shape.context;
  }

  tokenize(text: string, opts: { bos?: boolean } = {}): number[] {
    return this.vocab.encode(text, { bos: opts.bos ?? false });
  }

  detokenize(ids: readonly number[]): string {
    return this.vocab.decode(ids);
  }

  load(): { running: number; waiting: number } {
    return { running: this.slots.running, waiting: this.slots.queued };
  }

  private emptyCache(): NamedTensors {
    const { heads, dim, layers } = this.shape;
    const empty = (): Tensor => ({ dtype: 'FP32', shape: [1, heads, 0, dim / heads], data: new Float32Array(0) });
    const feeds: NamedTensors = {};
    for (let i = 0; i < layers; i++) Object.assign(feeds, { [pastKey(i)]: empty(), [pastValue(i)]: empty() });
    return feeds;
  }

  async generate(req: GenerateRequest, onToken: (token: GeneratedToken) => boolean): Promise<void> {
    if (req.json) throw new FerryError('INVALID_ARGUMENT', 'response_format json_object / json_schema needs a GGUF model: grammar-constrained decoding runs in llama.cpp; export the model as GGUF or leave response_format out');
    await this.slots.acquire(req.signal);
    try {
      const random = seededRandom(req.sampling.seed ?? Math.floor(Math.random() * 2 ** 32));
      const { layers } = this.shape;
      let cache = this.emptyCache();
      let input = [...req.prompt];
      for (let produced = 0; produced < req.maxTokens && !req.signal.aborted; produced++) {
        const out = await this.model.infer({ input_ids: { dtype: 'INT64', shape: [1, input.length], data: BigInt64Array.from(input.map(BigInt)) }, ...cache });
        const all = out['logits']!.data as Float32Array;
        const v = this.vocab.size;
        const logits = all.subarray(all.length - v);
        const id = sample(logits, req.sampling, random);
        if (id === CharVocab.EOS) return;
        if (req.logprobs !== undefined) {
          const lp = logSoftmax(logits);
          const top = Array.from(lp.keys()).sort((a, b) => lp[b]! - lp[a]!).slice(0, req.logprobs).map((t) => ({ id: t, logprob: lp[t]! }));
          if (!onToken({ id, logprob: lp[id]!, top })) return;
        } else if (!onToken({ id })) {
          return;
        }
        cache = {};
        for (let i = 0; i < layers; i++) Object.assign(cache, { [pastKey(i)]: out[presentKey(i)]!, [pastValue(i)]: out[presentValue(i)]! });
        input = [id];
      }
    } finally {
      this.slots.release();
    }
  }

  async unload(): Promise<void> {
    this.slots.close('the model was unloaded');
    await this.model.unload();
  }
}
