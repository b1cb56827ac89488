// Text datasets for the training engine: the texts, a WordPiece tokenizer trained on the training
// split only (so nothing of the test set leaks into the vocabulary), and fixed-length id rows.
import { invalid } from '../../core/errors.js';
import { loadSpamAssassin } from '../../text/spam-assassin.js';
import { tokenizeSplit } from '../../text/text-dataset.js';
import { TextTokenizer } from '../../text/tokenizer.js';
import { trainWordPiece } from '../../text/tokenizer-trainer.js';
import type { Dataset, DatasetSpec } from './dataset.js';
import { skipGramDataset } from '../../text/skipgram.js';

export async function loadSpamText(spec: Extract<DatasetSpec, { type: 'spam-assassin' }>): Promise<Dataset> {
  const maxLength = spec.maxLength ?? 128;
  const vocabSize = spec.vocabSize ?? 8000;
  if (!Number.isInteger(vocabSize) || vocabSize < 100) throw invalid(`spam-assassin dataset: vocabSize must be an integer ≥ 100, got ${vocabSize}`);
  const split = await loadSpamAssassin({ splitSeed: spec.splitSeed, testFraction: spec.testFraction });
  // rare characters (the corpus has ~2,000 distinct ones) become [UNK] rather than crowd out words
  const files = trainWordPiece(split.train.texts, { vocabSize, modelMaxLength: maxLength, limitAlphabet: Math.min(1000, Math.floor(vocabSize / 4)) });
  const tokenizer = TextTokenizer.fromFiles(files.tokenizerJson, files.tokenizerConfig);
  return { ...tokenizeSplit(split, tokenizer, maxLength), tokenizer: files };
}

/** Skip-gram pairs from the e-mails' training split (the test split is left out of the corpus). */
export async function loadSkipGram(spec: Extract<DatasetSpec, { type: 'skipgram' }>): Promise<Dataset> {
  if (spec.corpus !== 'spam-assassin') throw invalid(`skipgram dataset: corpus must be "spam-assassin", got ${JSON.stringify(spec.corpus)}`);
  const split = await loadSpamAssassin({});
  return skipGramDataset('spam-assassin words', split.train.texts, { ...spec, seed: 0 });
}
