import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cutText, mailToText } from '../../src/text/mail-text.js';

const mail = (headers: string[], body: string) => `From someone@example.com  Thu Aug 22 13:17:22 2002\n${headers.join('\n')}\n\n${body}`;

describe('mailToText', () => {
  it('keeps the subject and body and drops every other header', () => {
    const text = mailToText(mail(['Received: from localhost (localhost [127.0.0.1])', '\tby phobos.labs (Postfix) with ESMTP id 136B943C32', 'Subject: Re: New  Sequences', '\tWindow', 'Message-ID: <1@x>'], 'Hello there,\n\nthe  build is\tgreen.\n'));
    assert.equal(text, 'Re: New Sequences Window\n\nHello there, the build is green.');
  });

  it('decodes quoted-printable soft line breaks and =XX bytes in the declared charset', () => {
    const text = mailToText(mail(['Subject: x', 'Content-Type: text/plain; charset="iso-8859-1"', 'Content-Transfer-Encoding: quoted-printable'], 'Caf=E9 au lait for ever=\nyone =3D free'));
    assert.equal(text, 'x\n\nCafé au lait for everyone = free');
  });

  it('leaves =XX alone when the mail is not quoted-printable', () => {
    assert.equal(mailToText(mail(['Subject: x'], 'a=3Db')), 'x\n\na=3Db');
  });

  it('strips HTML tags, comments, styles and entities', () => {
    const text = mailToText(mail(['Subject: Deal', 'Content-Type: text/html'], '<html><head><style>p { color: red }</style></head><body><!-- hidden --><p>Buy&nbsp;now &amp; <b>save</b> &#36;5</p></body></html>'));
    assert.equal(text, 'Deal\n\nBuy now & save $5');
  });

  it('strips HTML sent as text/plain', () => {
    assert.equal(mailToText(mail(['Subject: s'], '<BODY><FONT size=3>Free</FONT><BR>money</BODY>')), 's\n\nFree money');
  });

  it('reads the plain part of multipart/alternative, decodes base64 parts and skips attachments', () => {
    const body = [
      'This is a multi-part message in MIME format.',
      '--outer',
      'Content-Type: multipart/alternative; boundary="inner"',
      '',
      '--inner',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: base64',
      '',
      Buffer.from('Plain words, naïve.').toString('base64'),
      '--inner',
      'Content-Type: text/html',
      '',
      '<p>HTML words</p>',
      '--inner--',
      '--outer',
      'Content-Type: application/octet-stream; name="a.exe"',
      'Content-Transfer-Encoding: base64',
      '',
      'TVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
      '--outer--',
    ].join('\n');
    const text = mailToText(mail(['Subject: parts', 'Content-Type: multipart/mixed;', ' boundary="outer"'], body));
    assert.equal(text, 'parts\n\nPlain words, naïve.');
  });

  it('falls back to the HTML part when there is no plain one', () => {
    const body = ['--b', 'Content-Type: text/html', '', '<p>Only HTML</p>', '--b--'].join('\n');
    assert.equal(mailToText(mail(['Subject: h', 'Content-Type: multipart/alternative; boundary=b'], body)), 'h\n\nOnly HTML');
  });

  it('decodes RFC 2047 subjects, joining adjacent encoded words', () => {
    const text = mailToText(mail(['Subject: =?iso-8859-1?Q?Caf=E9_cr=E8me?= =?utf-8?B?IOKCrDU=?='], 'body'));
    assert.equal(text, 'Café crème €5\n\nbody');
  });

  it('gives an empty subject when there is none', () => {
    assert.equal(mailToText(mail(['To: a@b'], 'just a body')), '\n\njust a body');
  });
});

describe('cutText', () => {
  it('cuts to the limit but never through a surrogate pair', () => {
    assert.equal(cutText('abcdef', 4), 'abcd');
    assert.equal(cutText('abc', 4), 'abc');
    assert.equal(cutText('ab😀c', 3), 'ab');
    assert.equal(cutText('ab😀c', 4), 'ab😀');
  });
});
