// Language-model data: texts become one stream of character ids, `<s> text </s> <s> text </s> …`, cut
// into windows of context + 1 ids. A window's first `context` ids are the input and its last `context`
// the targets, so position t learns to predict id t + 1. Consecutive windows overlap by one id, so
// every id of the stream but the first is a target exactly once.
import { invalid } from '../../core/errors.js';
import { CharVocab } from '../../text/char-vocab.js';
import { loadSpamAssassin, SPAM_ASSASSIN_SOURCE } from '../../text/spam-assassin.js';
import type { Dataset, DatasetSpec, Examples } from './dataset.js';

/** The ids of `texts` joined as `<s> text </s> …`, stopping once `limit` ids are there. */
export function joinTexts(vocab: CharVocab, texts: Iterable<string>, limit = Infinity): Int32Array {
  const ids: number[] = [];
  for (const text of texts) {
    if (ids.length >= limit) break;
    for (const id of vocab.encode(text, { bos: true, eos: true })) ids.push(id);
  }
  return Int32Array.from(ids.length > limit ? ids.slice(0, limit) : ids);
}

/**
 * Windows of context + 1 ids at a stride of `context`, at most `max` of them; ids are stored as
 * float32 features (exact up to 2^24) and int32 targets, as the trainer reads them.
 *
 *   windows(Int32Array.of(1, 5, 6, 7, 2), 2)  // x [[1, 5], [6, 7]], y [[5, 6], [7, 2]]
 */
export function windows(stream: Int32Array, context: number, max = Infinity): Examples {
  const n = Math.min(max, Math.max(0, Math.floor((stream.length - 1) / context)));
  const x = new Float32Array(n * context);
  const y = new Int32Array(n * context);
  for (let w = 0; w < n; w++) {
    const at = w * context;
    for (let t = 0; t < context; t++) {
      x[w * context + t] = stream[at + t]!;
      y[w * context + t] = stream[at + t + 1]!;
    }
  }
  return { n, x, y };
}

type Spec = Extract<DatasetSpec, { type: 'spam-assassin-lm' }>;

const DEFAULT_VOCAB_CHARS = 128;
const DEFAULT_TEST_WINDOWS = 1000;

/** The spam-assassin e-mails (ham and spam alike) as a character language-model corpus. The
 *  vocabulary comes from the training split only; the test split gives the held-out loss. */
export async function loadSpamAssassinLm(spec: Spec): Promise<Dataset> {
  const positive = (field: keyof Spec, v: unknown, min = 1): number => {
    if (!Number.isSafeInteger(v) || (v as number) < min) throw invalid(`spam-assassin-lm dataset: ${field} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
    return v as number;
  };
  const context = positive('context', spec.context, 2);
  const vocabChars = positive('vocabChars', spec.vocabChars ?? DEFAULT_VOCAB_CHARS);
  const minCount = positive('minCount', spec.minCount ?? 1);
  const trainMax = spec.trainWindows === undefined ? Infinity : positive('trainWindows', spec.trainWindows);
  const testMax = positive('testWindows', spec.testWindows ?? DEFAULT_TEST_WINDOWS);
  const split = await loadSpamAssassin({ splitSeed: spec.splitSeed, testFraction: spec.testFraction, maxChars: spec.maxChars });
  const vocab = CharVocab.build(split.train.texts, { maxChars: vocabChars, minCount });
  // the model's vocab size is written in its spec, so the vocabulary must have exactly this many
  if (vocab.chars.length < vocabChars) {
    throw invalid(`spam-assassin-lm dataset: only ${vocab.chars.length} characters occur ${minCount} or more times in the training texts, fewer than vocabChars ${vocabChars}; lower vocabChars or minCount`);
  }
  // the split already shuffled the mails, so the first windows are a random sample of them
  const train = windows(joinTexts(vocab, split.train.texts, trainMax * context + 1), context, trainMax);
  const test = windows(joinTexts(vocab, split.test.texts, testMax * context + 1), context, testMax);
  return {
    name: 'spam-assassin characters',
    featureShape: [context],
    labelShape: [context],
    train,
    test,
    charVocab: vocab.toJSON(),
    record: {
      type: 'spam-assassin-lm',
      source: SPAM_ASSASSIN_SOURCE,
      trainSize: train.n,
      testSize: test.n,
      split: `${split.record.split}; ${vocab.size} character tokens (3 special, 256 bytes, ${vocab.chars.length} characters), texts joined as <s> text </s>, windows of ${context} + 1 ids`,
    },
  };
}
