// Raw RFC 822 e-mail → the text a classifier should read: the Subject, a blank line, then the body.
// Headers other than Subject are routing noise (Received:, Message-ID:, mailer names) that would let
// a model learn which servers sent the corpus rather than what spam says, so they are dropped. The
// MIME handling is deliberately crude but covers what the SpamAssassin corpus holds: quoted-printable
// and base64 text parts, multipart/alternative (the plain part wins over HTML), attachments skipped,
// RFC 2047 encoded subjects, and HTML reduced to its words.

interface Entity {
  readonly headers: ReadonlyMap<string, string>;
  readonly body: string;
}

/**
 * The classifier's view of one raw e-mail: `${subject}\n\n${body}`, whitespace collapsed to single
 * spaces within each.
 *
 *   mailToText('Subject: Hi\nContent-Type: text/html\n\n<p>Win   now</p>')  // 'Hi\n\nWin now'
 */
export function mailToText(raw: string): string {
  const message = parseEntity(raw);
  const subject = collapse(decodeWords(message.headers.get('subject') ?? ''));
  const body = collapse(entityText(message, 0));
  return `${subject}\n\n${body}`;
}

/** Cuts to at most `max` UTF-16 units without leaving half a surrogate pair at the end. */
export function cutText(text: string, max: number): string {
  if (text.length <= max) return text;
  const code = text.charCodeAt(max - 1);
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
}

function parseEntity(raw: string): Entity {
  const split = /\r?\n\r?\n/.exec(raw);
  const head = split ? raw.slice(0, split.index) : raw;
  const body = split ? raw.slice(split.index + split[0].length) : '';
  const headers = new Map<string, string>();
  // Folded header lines (starting with whitespace) continue the previous header.
  const unfolded = head.replace(/\r?\n[ \t]+/g, ' ');
  for (const line of unfolded.split(/\r?\n/)) {
    const m = /^([!-9;-~]+):[ \t]*(.*)$/.exec(line);
    if (m && !headers.has(m[1]!.toLowerCase())) headers.set(m[1]!.toLowerCase(), m[2]!.trim());
  }
  return { headers, body };
}

function contentType(e: Entity): { type: string; params: Map<string, string> } {
  const value = e.headers.get('content-type') ?? 'text/plain';
  const [type = '', ...rest] = value.split(';');
  const params = new Map<string, string>();
  for (const p of rest) {
    const m = /^\s*([^=\s]+)\s*=\s*"?([^";]*)"?/.exec(p);
    if (m) params.set(m[1]!.toLowerCase(), m[2]!);
  }
  return { type: type.trim().toLowerCase() || 'text/plain', params };
}

function entityText(e: Entity, depth: number): string {
  const { type, params } = contentType(e);
  const boundary = params.get('boundary');
  const parts = type.startsWith('multipart/') && boundary && depth < 8 ? splitMultipart(e.body, boundary).map(parseEntity) : [];
  if (parts.length > 0) {
    const texts = parts.map((p) => entityText(p, depth + 1));
    if (type === 'multipart/alternative') {
      // The same message twice: the plain version reads cleaner than HTML with its tags stripped.
      const plain = parts.findIndex((p) => contentType(p).type === 'text/plain');
      return (plain >= 0 && texts[plain]!.trim() !== '' ? texts[plain] : texts.find((t) => t.trim() !== '')) ?? '';
    }
    return texts.filter((t) => t.trim() !== '').join('\n');
  }
  if (type === 'message/rfc822' && depth < 8) {
    const inner = parseEntity(e.body);
    return `${decodeWords(inner.headers.get('subject') ?? '')}\n${entityText(inner, depth + 1)}`;
  }
  // A "multipart" whose boundary is missing or never occurs is read as text rather than lost.
  if (!type.startsWith('text/') && !type.startsWith('multipart/')) return '';
  const text = decodeBody(e.body, (e.headers.get('content-transfer-encoding') ?? '').toLowerCase(), params.get('charset'));
  // Much spam sends HTML labelled text/plain or with no Content-Type at all.
  return type === 'text/html' || LOOKS_LIKE_HTML.test(text) ? stripHtml(text) : text;
}

function splitMultipart(body: string, boundary: string): string[] {
  const parts: string[] = [];
  let current: string[] | undefined;
  for (const line of body.split(/\r?\n/)) {
    if (line.startsWith(`--${boundary}`)) {
      if (current) parts.push(current.join('\n'));
      if (line.startsWith(`--${boundary}--`)) return parts;
      current = [];
    } else if (current) {
      current.push(line);
    }
  }
  if (current) parts.push(current.join('\n'));
  return parts;
}

function decodeBody(body: string, encoding: string, charset: string | undefined): string {
  if (encoding === 'quoted-printable') return decodeBytes(quotedPrintableBytes(body), charset);
  if (encoding === 'base64') return decodeBytes(Buffer.from(body.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64'), charset);
  return body;
}

function quotedPrintableBytes(text: string, underscoreIsSpace = false): Buffer {
  const soft = text.replace(/=\r?\n/g, '');
  const bytes: number[] = [];
  for (let i = 0; i < soft.length; i++) {
    const c = soft.charCodeAt(i);
    if (c === 0x3d && /^[0-9A-Fa-f]{2}$/.test(soft.slice(i + 1, i + 3))) {
      bytes.push(parseInt(soft.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (underscoreIsSpace && c === 0x5f) {
      bytes.push(0x20);
    } else if (c < 0x100) {
      bytes.push(c);
    } else {
      // Not legal in quoted-printable, but the corpus string is already decoded: keep the character.
      bytes.push(...Buffer.from(soft[i]!, 'utf8'));
    }
  }
  return Buffer.from(bytes);
}

function decodeBytes(bytes: Uint8Array, charset: string | undefined): string {
  const label = (charset ?? '').trim().toLowerCase();
  // us-ascii and unknown labels read as windows-1252 (WHATWG's "latin1"), which never fails.
  if (label !== '' && label !== 'us-ascii') {
    try {
      return new TextDecoder(label).decode(bytes);
    } catch {
      // RangeError: a charset TextDecoder does not know (e.g. "unknown-8bit").
    }
  }
  return new TextDecoder('latin1').decode(bytes);
}

/** RFC 2047 encoded words (`=?iso-8859-1?Q?caf=E9?=`); whitespace between two of them is dropped. */
function decodeWords(value: string): string {
  return value
    .replace(/(\?=)\s+(=\?)/g, '$1$2')
    .replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_m, charset: string, enc: string, data: string) =>
      decodeBytes(enc.toUpperCase() === 'B' ? Buffer.from(data, 'base64') : quotedPrintableBytes(data, true), charset.replace(/\*.*$/, '')),
    );
}

const LOOKS_LIKE_HTML = /<\/?(html|body|head|table|font|div|br|p|a)\b[^>]*>/i;

const ENTITIES: Readonly<Record<string, string>> = { nbsp: ' ', amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", copy: '©', reg: '®' };

function stripHtml(html: string): string {
  return html
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<(script|style)\b[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, name: string) => {
      if (name[0] === '#') {
        const cp = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
        return cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : ' ';
      }
      return ENTITIES[name.toLowerCase()] ?? m;
    });
}

function collapse(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
