// Generated tokens becoming the text a client receives, a token at a time: stop strings cut it, a
// partial UTF-8 character (byte tokens waiting for the rest) is held back until it completes, and so
// is the start of a possible stop string. Each token costs a detokenization of the token alone (with
// the few before it, for detokenizers that look back) and a stop-string search over the new tail.
import type { GenerativeModel } from './generation.js';

/** a character is at most 4 UTF-8 bytes, so at most 4 byte tokens can be waiting for each other */
const MAX_PENDING = 4;
const LOOK_BACK = 4;

export class TextStream {
  /** ids whose text is not final yet (a character's first bytes) */
  private pending: number[] = [];
  /** the last few ids before `pending` */
  private previous: number[] = [];
  private readonly longestStop: number;
  /** characters of `text` already handed out */
  private sent = 0;
  /** everything generated so far, cut at a stop string */
  text = '';
  stopped = false;

  constructor(private readonly model: Pick<GenerativeModel, 'detokenize'>, private readonly stop: readonly string[]) {
    this.longestStop = Math.max(0, ...stop.map((s) => s.length));
  }

  /** the new text to send after this token ('' when held back) */
  push(id: number): string {
    this.pending.push(id);
    const piece = this.model.detokenize(this.pending, this.previous);
    if (piece.endsWith('\uFFFD') && this.pending.length < MAX_PENDING) return '';
    this.previous = [...this.previous, ...this.pending].slice(-LOOK_BACK);
    this.pending = [];
    return this.append(piece);
  }

  /** what was held back, once generation ends */
  flush(): string {
    if (this.stopped) return '';
    let out = '';
    if (this.pending.length > 0) {
      out = this.append(this.model.detokenize(this.pending, this.previous));
      this.pending = [];
      if (this.stopped) return out;
    }
    // the beginning of a stop string that never came
    out += this.text.slice(this.sent);
    this.sent = this.text.length;
    return out;
  }

  private append(piece: string): string {
    this.text += piece;
    if (this.longestStop > 0) {
      // a new match can only end in the new piece
      const from = Math.max(0, this.text.length - piece.length - this.longestStop + 1);
      let cut = -1;
      for (const s of this.stop) {
        const i = this.text.indexOf(s, from);
        if (i >= 0 && (cut < 0 || i < cut)) cut = i;
      }
      if (cut >= 0) {
        this.text = this.text.slice(0, cut);
        this.stopped = true;
      }
    }
    const hold = this.stopped ? 0 : Math.max(0, ...this.stop.map((s) => longestPrefixAtEnd(this.text, s)));
    const upto = Math.max(this.sent, this.text.length - hold);
    const out = this.text.slice(this.sent, upto);
    this.sent = upto;
    return out;
  }
}

function longestPrefixAtEnd(text: string, s: string): number {
  for (let n = Math.min(s.length - 1, text.length); n > 0; n--) if (text.endsWith(s.slice(0, n))) return n;
  return 0;
}
