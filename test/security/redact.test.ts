// The payload log's redactor, on real-looking personal data and on look-alikes that must stay.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { luhnValid, redact } from '../../src/security/redact.js';

describe('redact', () => {
  it('replaces e-mail addresses', () => {
    assert.equal(redact('write to ann.lee+ferry@mail.example.co.uk today'), 'write to [email] today');
    assert.equal(redact('{"to":"bob_smith@example.com"}'), '{"to":"[email]"}');
  });

  it('replaces API keys and bearer tokens', () => {
    assert.equal(redact('key fy_0123456789ab_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcdefg end'), 'key [key] end');
    assert.equal(redact('OPENAI_API_KEY=sk-proj-AbC123dEf456GhI789jKl012'), 'OPENAI_API_KEY=[key]');
    assert.equal(redact('Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig'), 'Authorization: [key]');
  });

  it('replaces Luhn-valid card numbers of 13 to 19 digits, with or without separators', () => {
    assert.equal(redact('card 4111 1111 1111 1111 exp 12/29'), 'card [card] exp 12/29');
    assert.equal(redact('amex 378282246310005.'), 'amex [card].');
    assert.equal(redact('mc 5555-5555-5555-4444'), 'mc [card]');
    assert.equal(redact('visa13 4222222222222'), 'visa13 [card]');
  });

  it('replaces phone numbers', () => {
    assert.equal(redact('call +1 (415) 555-2671 now'), 'call [phone] now');
    assert.equal(redact('office: 020 7946 0958'), 'office: [phone]');
    assert.equal(redact('mobile +44 7700 900123'), 'mobile [phone]');
    assert.equal(redact('us 415-555-2671'), 'us [phone]');
  });

  it('leaves look-alikes alone', () => {
    for (const text of [
      'order 4111 1111 1111 1112 shipped', // not Luhn-valid
      'on 2025-01-31 at 12:30', // a date
      'version 1.2.3 of model mnist:2', // a version
      'server 10.0.0.12:8080', // an address
      'id 1234567890123456789012', // 22 digits: too long for a card
      'batch of 64 rows, 784 inputs', // plain numbers
      'user@localhost', // no domain
      'sk-short', // too short to be a key
      'the ask-price rose', // "sk-" inside a word
    ]) assert.equal(redact(text), text, text);
  });

  it('checks Luhn', () => {
    assert.ok(luhnValid('4111111111111111'));
    assert.ok(luhnValid('79927398713'));
    assert.ok(!luhnValid('79927398710'));
  });
});
