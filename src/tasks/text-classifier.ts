// Text classification served from strings: a model file that carries its tokenizer and labels
// (metadata_props 'ferry.task', 'ferry.tokenizer', 'ferry.classes') is wrapped so that it takes a
// BYTES tensor of texts and returns each text's top label and every label's score. Ferry tokenizes
// on the server, pads each batch to its longest text, and feeds the graph whichever of input_ids /
// attention_mask / token_type_ids it declares (or `input`, for models Ferry trained).
import { FerryError } from '../core/errors.js';
import type { NamedTensors, Tensor } from '../core/tensor.js';
import type { LoadedModel, Signature } from '../runtimes/runtime.js';
import { TextTokenizer } from '../text/tokenizer.js';

export const TEXT_TASK_KEYS = { task: 'ferry.task', tokenizer: 'ferry.tokenizer', classes: 'ferry.classes', text: 'ferry.text' } as const;

/** How texts become ids: from 'ferry.text'. */
export interface TextOptions {
  /** cut texts longer than the model takes instead of refusing them; default false */
  readonly truncation?: boolean;
  /** the longest input in tokens; default the tokenizer's model_max_length */
  readonly maxLength?: number;
  /** 'multi_label_classification' scores each label with a sigmoid instead of one softmax */
  readonly problemType?: 'single_label_classification' | 'multi_label_classification';
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

/** Texts from a BYTES tensor, refusing what is not text. */
export function textsOf(t: Tensor | undefined, name: string): string[] {
  if (!t || t.dtype !== 'BYTES') throw new FerryError('INVALID_ARGUMENT', `send the texts as a BYTES tensor named "${name}" with shape [n]`);
  return (t.data as Uint8Array[]).map((b, i) => {
    let s: string;
    try {
      s = utf8.decode(b);
    } catch {
      throw new FerryError('INVALID_ARGUMENT', `text ${i} is not valid UTF-8; send UTF-8 text`);
    }
    if (s.trim() === '') throw new FerryError('INVALID_ARGUMENT', `text ${i} is empty; send at least one word`);
    return s;
  });
}

export class TextClassifier implements LoadedModel {
  readonly signature: Signature;
  private readonly idsInput: string;

  constructor(
    private readonly inner: LoadedModel,
    private readonly tokenizer: TextTokenizer,
    readonly classes: readonly string[],
    private readonly opts: TextOptions,
  ) {
    const names = inner.signature.inputs.map((i) => i.name);
    const ids = ['input_ids', 'input'].find((n) => names.includes(n));
    if (!ids) throw new FerryError('INVALID_ARGUMENT', `a text model needs an int64 input named input_ids; this one has ${names.join(', ')}`);
    this.idsInput = ids;
    const logits = inner.signature.outputs.find((o) => o.name === 'logits');
    if (!logits) throw new FerryError('INVALID_ARGUMENT', `a text classifier needs an output named logits; this one has ${inner.signature.outputs.map((o) => o.name).join(', ')}`);
    const width = logits.shape.at(-1);
    if (width !== undefined && width > 0 && width !== classes.length) {
      throw new FerryError('INVALID_ARGUMENT', `id2label names ${classes.length} labels but the model outputs ${width} logits; make them match`);
    }
    this.signature = {
      inputs: [{ name: 'text', dtype: 'BYTES', shape: [-1] }],
      outputs: [{ name: 'label', dtype: 'BYTES', shape: [-1] }, { name: 'scores', dtype: 'FP32', shape: [-1, classes.length] }],
    };
  }

  /** Token counts of each text, as the model sees them (for usage accounting). */
  countTokens(texts: readonly string[]): number[] {
    return texts.map((t) => this.tokenizer.encode(t, { truncation: this.opts.truncation, maxLength: this.opts.maxLength }).ids.length);
  }

  async infer(inputs: NamedTensors): Promise<NamedTensors> {
    const texts = textsOf(inputs['text'], 'text');
    const batch = this.tokenizer.encodeBatch(texts, { maxLength: this.opts.maxLength, truncation: this.opts.truncation ?? false, padding: 'longest' });
    const shape = [batch.rows, batch.width];
    const feeds: NamedTensors = { [this.idsInput]: { dtype: 'INT64', shape, data: BigInt64Array.from(batch.ids, BigInt) } };
    const names = this.inner.signature.inputs.map((i) => i.name);
    if (names.includes('attention_mask')) feeds['attention_mask'] = { dtype: 'INT64', shape, data: BigInt64Array.from(batch.attentionMask, BigInt) };
    if (names.includes('token_type_ids')) feeds['token_type_ids'] = { dtype: 'INT64', shape, data: new BigInt64Array(batch.rows * batch.width) };
    const out = await this.inner.infer(feeds, ['logits']);
    const logits = out['logits']!.data as Float32Array;
    const c = this.classes.length;
    const scores = new Float32Array(texts.length * c);
    const labels: Uint8Array[] = [];
    for (let i = 0; i < texts.length; i++) {
      const row = logits.subarray(i * c, i * c + c);
      if (this.opts.problemType === 'multi_label_classification') {
        row.forEach((z, j) => (scores[i * c + j] = 1 / (1 + Math.exp(-z))));
      } else {
        const max = Math.max(...row);
        let sum = 0;
        row.forEach((z, j) => (sum += scores[i * c + j] = Math.exp(z - max)));
        for (let j = 0; j < c; j++) scores[i * c + j]! /= sum;
      }
      let best = 0;
      for (let j = 1; j < c; j++) if (scores[i * c + j]! > scores[i * c + best]!) best = j;
      labels.push(utf8Encoder.encode(this.classes[best]!));
    }
    return { label: { dtype: 'BYTES', shape: [texts.length], data: labels }, scores: { dtype: 'FP32', shape: [texts.length, c], data: scores } };
  }

  unload(): Promise<void> {
    return this.inner.unload();
  }
}
