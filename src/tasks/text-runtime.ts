// A Runtime that serves text models as text: it loads the file with the runtime it wraps, and when
// the file says it is a text task (metadata_props, written by Ferry's training or by
// `ferry models push DIR`), wraps the loaded model so that it takes strings. Other models pass
// through unchanged. Used for serving and for checking uploads, so a text model with a broken
// tokenizer or labels that do not match its outputs is refused at push time.
import { readFile } from 'node:fs/promises';
import { FerryError } from '../core/errors.js';
import { inspectOnnx } from '../graph/onnx.js';
import type { LoadedModel, ModelArtifact, Runtime, RuntimeOptions } from '../runtimes/runtime.js';
import { TextTokenizer } from '../text/tokenizer.js';
import { WordVectors } from '../text/word-vectors.js';
import { TEXT_TASK_KEYS, TextModel, tokenizerText, type TextOptions } from './text-model.js';

export const TEXT_TASKS = ['text-classification', 'feature-extraction'] as const;
const SERVED_TASKS: readonly string[] = [...TEXT_TASKS, 'word-embedding'];

export class TextTaskRuntime implements Runtime {
  readonly name: string;

  constructor(private readonly inner: Runtime) {
    this.name = inner.name;
  }

  async load(artifact: ModelArtifact, options: RuntimeOptions): Promise<LoadedModel> {
    const meta = inspectOnnx(new Uint8Array(await readFile(artifact.path))).metadata;
    const task = meta[TEXT_TASK_KEYS.task];
    const model = await this.inner.load(artifact, options);
    // a decoder answers V2 infer with raw logits, /v1/completions runs its generation loop; an image
    // generator is a plain tensor model (z in, image out) that /v1/images/generations feeds
    if (task === undefined || task === 'text-generation' || task === 'image-generation') return model;
    try {
      if (!SERVED_TASKS.includes(task)) {
        throw new FerryError('INVALID_ARGUMENT', `unknown task "${task.slice(0, 100)}" in the model file; Ferry serves ${SERVED_TASKS.join(', ')}`);
      }
      if (task === 'word-embedding') {
        const vocab = parse<string[]>(meta, 'ferry.vocab', 'its vocabulary');
        if (!Array.isArray(vocab) || vocab.length === 0) throw new FerryError('INVALID_ARGUMENT', 'a word-embedding model needs a non-empty vocabulary');
        return new WordVectors(model, vocab);
      }
      const tokenizer = parse<{ tokenizerJson: object; tokenizerConfig: object }>(meta, TEXT_TASK_KEYS.tokenizer, 'its tokenizer (tokenizer.json and tokenizer_config.json)', tokenizerText(meta));
      if (!isObject(tokenizer) || !isObject(tokenizer.tokenizerJson) || !isObject(tokenizer.tokenizerConfig)) {
        throw new FerryError('INVALID_ARGUMENT', 'the model\'s tokenizer must hold both tokenizer.json and tokenizer_config.json as objects');
      }
      const classes = task === 'text-classification' ? parse<string[]>(meta, TEXT_TASK_KEYS.classes, 'its labels (id2label)') : [];
      const opts = meta[TEXT_TASK_KEYS.text] ? checkOptions(parse<unknown>(meta, TEXT_TASK_KEYS.text, 'its text options')) : {};
      if (task === 'text-classification' && !(Array.isArray(classes) && classes.length > 0 && classes.every((c) => typeof c === 'string'))) {
        throw new FerryError('INVALID_ARGUMENT', 'the model\'s labels must be a non-empty list of strings (id2label)');
      }
      const text = new TextModel(model, TextTokenizer.fromFiles(tokenizer.tokenizerJson, tokenizer.tokenizerConfig), classes, opts);
      if (task === 'feature-extraction' && !text.signature.outputs.some((o) => o.name === 'embedding')) {
        throw new FerryError('INVALID_ARGUMENT', 'a feature-extraction model needs an output named last_hidden_state or embeddings');
      }
      return text;
    } catch (err) {
      await model.unload();
      throw err;
    }
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Text options from a file: checked now, so a bad value fails the upload, not every request later. */
function checkOptions(v: unknown): TextOptions {
  const bad = (what: string) => new FerryError('INVALID_ARGUMENT', `the model's text options: ${what}`);
  if (!isObject(v)) throw bad('must be an object');
  if (v['truncation'] !== undefined && typeof v['truncation'] !== 'boolean') throw bad('truncation must be true or false');
  if (v['normalize'] !== undefined && typeof v['normalize'] !== 'boolean') throw bad('normalize must be true or false');
  if (v['maxLength'] !== undefined && !(Number.isInteger(v['maxLength']) && (v['maxLength'] as number) > 0 && (v['maxLength'] as number) <= 1_000_000)) {
    throw bad('maxLength must be a positive integer');
  }
  if (v['pooling'] !== undefined && v['pooling'] !== 'mean' && v['pooling'] !== 'cls' && v['pooling'] !== 'max') {
    throw bad(`pooling must be mean, cls or max; got ${JSON.stringify(v['pooling']).slice(0, 40)}`);
  }
  if (v['problemType'] !== undefined && v['problemType'] !== 'single_label_classification' && v['problemType'] !== 'multi_label_classification') {
    throw bad('problemType must be single_label_classification or multi_label_classification');
  }
  return v as TextOptions;
}

function parse<T>(meta: Readonly<Record<string, string>>, key: string, what: string, raw = meta[key]): T {
  if (raw === undefined) throw new FerryError('INVALID_ARGUMENT', `a ${meta[TEXT_TASK_KEYS.task]} model must carry ${what}; it is missing`);
  try {
    return JSON.parse(raw) as T;
  } catch {
    throw new FerryError('INVALID_ARGUMENT', `the model's ${what} is not valid JSON`);
  }
}
