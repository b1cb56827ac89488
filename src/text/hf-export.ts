// Writing a Ferry-trained text classifier in the Hugging Face layout that Optimum and transformers.js
// use, so it is a normal HF model: config.json (model_type, id2label), tokenizer.json,
// tokenizer_config.json and onnx/model.onnx (input_ids in, logits out).
//
// Ferry's graph computes the padding mask from the ids ([PAD] = 0) and the positions itself, so it
// needs neither attention_mask nor position_ids; runtimes feed only the inputs a graph declares.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { renameAndSelect } from '../training/onnx-rename.js';

export interface HfClassifier {
  /** Ferry's inference model: input `input` (token ids), outputs `logits` and `probabilities` */
  readonly onnx: Uint8Array;
  readonly classes: readonly string[];
  readonly tokenizer: { readonly tokenizerJson: object; readonly tokenizerConfig: object };
  /** the training record, kept in config.json under "ferry" */
  readonly record?: object;
}

export function writeHfClassifier(dir: string, m: HfClassifier): void {
  mkdirSync(path.join(dir, 'onnx'), { recursive: true });
  const id2label = Object.fromEntries(m.classes.map((c, i) => [String(i), c]));
  const label2id = Object.fromEntries(m.classes.map((c, i) => [c, i]));
  const maxLength = (m.tokenizer.tokenizerConfig as { model_max_length?: number }).model_max_length;
  const config = {
    // a built-in type, so transformers.js picks its sequence-classification class; the graph is Ferry's
    model_type: 'bert',
    architectures: ['BertForSequenceClassification'],
    id2label, label2id, num_labels: m.classes.length,
    ...(maxLength ? { max_position_embeddings: maxLength } : {}),
    ferry: { exported_by: 'ferry', ...(m.record ? { training: m.record } : {}) },
  };
  writeFileSync(path.join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(m.tokenizer.tokenizerJson));
  writeFileSync(path.join(dir, 'tokenizer_config.json'), `${JSON.stringify(m.tokenizer.tokenizerConfig, null, 2)}\n`);
  writeFileSync(path.join(dir, 'onnx', 'model.onnx'), renameAndSelect(m.onnx, { inputs: { input: 'input_ids' }, keepOutputs: ['logits'] }));
}
