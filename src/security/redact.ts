// Redaction for the opt-in payload log (usage.logPayloads): e-mail addresses, API keys and bearer
// tokens, card numbers and phone numbers are replaced by a marker before anything is written.
// Card numbers must pass the Luhn check, so order numbers and timestamps stay readable; phone numbers
// must look like one (a leading + or separators between digit groups, 9–15 digits), so dates
// (8 digits), versions and bare ids do not match.
//
//   redact('mail ann@example.com, card 4111 1111 1111 1111') === 'mail [email], card [card]'

const KEYS = [
  /\bBearer\s+[A-Za-z0-9._~+/=-]+/gi,
  /\bfy_[A-Za-z0-9_-]{8,}/g,
  /\bsk-[A-Za-z0-9_-]{16,}/g,
];
const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g;
// 13–19 digits, optionally in groups split by one space or dash
const CARD = /(?<![\w-])\d(?:[ -]?\d){12,18}(?![\d-])/g;
// an optional +country code, optional (area), then 2–4 more digit groups split by space, dash or dot
const PHONE = /(?<![\w.+-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,6}){1,4}(?![\w-]|\.\d)/g;

export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

export function redact(text: string): string {
  let out = text;
  for (const k of KEYS) out = out.replace(k, '[key]');
  out = out.replace(EMAIL, '[email]');
  out = out.replace(CARD, (m) => {
    const digits = m.replace(/[ -]/g, '');
    return digits.length >= 13 && digits.length <= 19 && luhnValid(digits) ? '[card]' : m;
  });
  out = out.replace(PHONE, (m) => {
    const digits = m.replace(/\D/g, '').length;
    const plus = m.startsWith('+') || m.startsWith('(');
    // "2024-01-31", "10.0.0.12", "1.2.3": too few digits, or dots without a leading +
    if (digits < 9 || digits > 15) return m;
    if (m.includes('.') && !plus) return m;
    return '[phone]';
  });
  return out;
}
