// Packing a model folder in the Hugging Face ONNX layout (what Optimum and transformers.js use) into
// one ONNX file that carries its tokenizer, labels and task in metadata_props — the form Ferry
// registers, serves and copies as a single immutable artifact.
//
//   config.json            model_type, id2label, problem_type
//   tokenizer.json         WordPiece, BPE or Unigram (@huggingface/tokenizers)
//   tokenizer_config.json  pad_token, model_max_length, …
//   onnx/model.onnx        input_ids (+ attention_mask, token_type_ids) → logits
//   modules.json           optional (sentence-transformers): Pooling and Normalize for feature extraction
//
// The folder is read through ModelFiles, so a folder on disk and an uploaded tar take one path.
import { FerryError } from '../core/errors.js';
import { decodeModel, encodeModel, inspectOnnx } from '../graph/onnx.js';
import { TEXT_TASK_KEYS, type TextOptions } from '../tasks/text-model.js';
import { TEXT_TASKS } from '../tasks/text-runtime.js';
import { folderFiles, readJson, type ModelFiles } from './model-files.js';
import { sentenceTransformerOptions } from './sentence-transformers.js';
import { TextTokenizer } from './tokenizer.js';

export interface PackOptions {
  readonly task: string;
  /** cut over-long texts instead of refusing them */
  readonly truncation?: boolean;
}

const bad = (msg: string) => new FerryError('INVALID_ARGUMENT', msg);
const LAYOUT = 'a Hugging Face model folder needs config.json, tokenizer.json, tokenizer_config.json and onnx/model.onnx';

function requiredJson(files: ModelFiles, file: string): Record<string, unknown> {
  const v = readJson(files, file);
  if (v === undefined) throw bad(`${files.label} has no ${file}; ${LAYOUT}`);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(`${file} must be a JSON object`);
  return v as Record<string, unknown>;
}

/** Packs a model folder on disk; see packHfFiles. */
export function packHfDirectory(dir: string, opts: PackOptions): Uint8Array {
  return packHfFiles(folderFiles(dir), opts);
}

/**
 * One ONNX file from a Hugging Face model folder, with its tokenizer, labels and text options in
 * metadata_props.
 *
 *   const onnx = packHfFiles(memoryFiles(tarFiles(readTar(body))), { task: 'text-classification' });
 */
export function packHfFiles(files: ModelFiles, opts: PackOptions): Uint8Array {
  if (!(TEXT_TASKS as readonly string[]).includes(opts.task)) throw bad(`--task must be one of ${TEXT_TASKS.join(', ')}, got "${opts.task}"`);
  const config = requiredJson(files, 'config.json');
  const tokenizerJson = requiredJson(files, 'tokenizer.json');
  let tokenizerConfig = requiredJson(files, 'tokenizer_config.json');
  // many HF folders state no usable model_max_length (absent, or 1e30): take the position table's size
  const stated = tokenizerConfig['model_max_length'];
  const positions = config['max_position_embeddings'];
  if (!(typeof stated === 'number' && stated < 1e9) && typeof positions === 'number' && positions > 0) {
    tokenizerConfig = { ...tokenizerConfig, model_max_length: positions };
  }
  TextTokenizer.fromFiles(tokenizerJson, tokenizerConfig); // refuses a tokenizer that cannot load, now
  const bytes = files.read('onnx/model.onnx');
  if (!bytes) throw bad(`${files.label} has no onnx/model.onnx; ${LAYOUT}`);
  if (files.has('onnx/model.onnx_data')) throw bad('onnx/model.onnx keeps its weights in a separate model.onnx_data file, which Ferry cannot register yet; export the model with its weights inside');
  const summary = inspectOnnx(bytes);
  const outputs = summary.outputs.map((o) => o.name);
  if (opts.task === 'feature-extraction') {
    if (!outputs.includes('last_hidden_state') && !outputs.includes('embeddings')) {
      throw bad(`a feature-extraction model needs an output named last_hidden_state (or embeddings); onnx/model.onnx has ${outputs.join(', ')}`);
    }
    const text: TextOptions = { truncation: opts.truncation ?? false, ...sentenceTransformerOptions(files) };
    return withMetadata(bytes, opts.task, { tokenizerJson, tokenizerConfig }, [], text);
  }
  const logits = summary.outputs.find((o) => o.name === 'logits');
  if (!logits) throw bad(`onnx/model.onnx has no output named logits (it has ${outputs.join(', ')})`);
  const id2label = config['id2label'] as Record<string, string> | undefined;
  const width = logits.shape?.at(-1);
  let classes: string[];
  if (id2label && typeof id2label === 'object') {
    const n = Object.keys(id2label).length;
    classes = Array.from({ length: n }, (_, i) => {
      const label = id2label[String(i)];
      if (typeof label !== 'string') throw bad(`config.json id2label has no label for ${i}; it must map 0..${n - 1} to names`);
      return label;
    });
  } else if (typeof width === 'number' && width > 0) {
    classes = Array.from({ length: width }, (_, i) => `LABEL_${i}`); // what transformers.js calls them
  } else {
    throw bad('config.json has no id2label and the model does not say how many labels it outputs; add id2label');
  }
  const text: TextOptions = {
    truncation: opts.truncation ?? false,
    ...(config['problem_type'] === 'multi_label_classification' ? { problemType: 'multi_label_classification' as const } : {}),
  };
  return withMetadata(bytes, opts.task, { tokenizerJson, tokenizerConfig }, classes, text);
}

function withMetadata(bytes: Uint8Array, task: string, tokenizer: object, classes: readonly string[], text: TextOptions): Uint8Array {
  const model = decodeModel(bytes);
  const keep = model.metadataProps.filter((p) => !p.key?.startsWith('ferry.'));
  model.metadataProps = [
    ...keep,
    { key: TEXT_TASK_KEYS.task, value: task },
    { key: TEXT_TASK_KEYS.tokenizer, value: JSON.stringify(tokenizer) },
    ...(classes.length > 0 ? [{ key: TEXT_TASK_KEYS.classes, value: JSON.stringify(classes) }] : []),
    { key: TEXT_TASK_KEYS.text, value: JSON.stringify(text) },
  ];
  return encodeModel(model);
}
