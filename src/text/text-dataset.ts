// Texts → the training engine's in-memory Dataset: each example is its token ids padded with [PAD] to
// exactly maxLength, stored as float32 because Dataset holds features as one Float32Array (ids up to
// 2^24 are exact in float32; the model's embedding lookup casts them back). Truncation keeps
// [CLS] … [SEP], the same as TextTokenizer does when serving, so training and inference agree.
import { invalid } from '../core/errors.js';
import type { Dataset, DatasetRecord, Examples } from '../training/data/dataset.js';
import type { TextExamples, TextSplit, TextSplitRecord } from './spam-assassin.js';
import type { TextTokenizer } from './tokenizer.js';

/** DatasetRecord with the text source's type. Once DatasetSpec has a 'spam-assassin' member, this is
 *  a DatasetRecord and a TextDataset is a Dataset. */
export type TextDatasetRecord = Omit<DatasetRecord, 'type'> & { readonly type: TextSplitRecord['type'] };
export type TextDataset = Omit<Dataset, 'record'> & { readonly record: TextDatasetRecord };

/** Float32 holds every integer up to 2^24 exactly. */
const FLOAT32_EXACT_IDS = 2 ** 24;

/**
 * Tokenizes both halves of a split into fixed-length id rows.
 *
 *   const ds = tokenizeSplit(await loadSpamAssassin(), tokenizer, 128);
 *   ds.featureShape;  // [128]
 *   ds.train.x[0];    // 2, the id of [CLS]
 */
export function tokenizeSplit(split: TextSplit, tokenizer: TextTokenizer, maxLength: number): TextDataset {
  if (!Number.isSafeInteger(maxLength) || maxLength < tokenizer.specialCount + 1) {
    throw invalid(`maxLength must be an integer of at least ${tokenizer.specialCount + 1}, got ${JSON.stringify(maxLength)}; send e.g. 128`);
  }
  if (tokenizer.maxLength !== undefined && maxLength > tokenizer.maxLength) {
    throw invalid(`maxLength ${maxLength} is beyond the tokenizer's model_max_length of ${tokenizer.maxLength}; send at most ${tokenizer.maxLength}`);
  }
  if (tokenizer.vocabSize > FLOAT32_EXACT_IDS) {
    throw invalid(`a vocabulary of ${tokenizer.vocabSize} tokens has ids float32 cannot hold exactly; use at most ${FLOAT32_EXACT_IDS}`);
  }
  const train = tokenizeExamples(split.train, tokenizer, maxLength);
  const test = tokenizeExamples(split.test, tokenizer, maxLength);
  return {
    name: split.name,
    featureShape: [maxLength],
    classes: split.classes,
    train,
    test,
    record: {
      ...split.record,
      trainSize: train.n,
      testSize: test.n,
      split: `${split.record.split}; WordPiece vocabulary of ${tokenizer.vocabSize}, ${maxLength} tokens per text ([CLS] … [SEP], truncated, padded with id ${tokenizer.padId})`,
    },
  };
}

function tokenizeExamples(ex: TextExamples, tokenizer: TextTokenizer, maxLength: number): Examples {
  if (ex.texts.length !== ex.labels.length) {
    throw invalid(`${ex.texts.length} texts but ${ex.labels.length} labels; each text needs one label`);
  }
  const batch = tokenizer.encodeBatch(ex.texts, { maxLength, truncation: true, padding: 'max_length' });
  return { n: batch.rows, x: Float32Array.from(batch.ids), y: Int32Array.from(ex.labels) };
}
