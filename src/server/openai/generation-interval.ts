// Opt-in: several tokens' text in one SSE event, as vLLM's `--stream-interval` does. By default every
// token is its own event; on a small model a token costs less to generate than the socket write and
// the client's parse of its event, so a client that wants throughput more than smoothness asks for
// `stream_interval` (tokens per event) and/or `stream_interval_ms` (the longest a piece of text waits).
import type { Clock, TimerHandle } from '../../core/clock.js';

export interface StreamInterval {
  /** pieces of text per event; Infinity when only `ms` bounds an event */
  readonly tokens: number;
  /** how long the first waiting piece may wait before it is sent with whatever came after it */
  readonly ms?: number;
}

/**
 * Collects the text a stream would send token by token and sends it as one event once `tokens`
 * pieces wait, or once the first of them has waited `ms` (on the injected clock).
 *
 * @example
 * const s = new IntervalSender({ tokens: 4 }, systemClock, (text) => res.write(eventOf(text)));
 * for (const piece of pieces) s.push(piece); // an event per 4 pieces
 * s.flush(); // the rest, before the finish event
 */
export class IntervalSender {
  private text = '';
  private waiting = 0;
  private timer?: TimerHandle;

  constructor(private readonly interval: StreamInterval, private readonly clock: Clock, private readonly send: (text: string) => void) {}

  push(piece: string): void {
    this.text += piece;
    if (++this.waiting >= this.interval.tokens) return this.flush();
    if (this.interval.ms !== undefined && this.timer === undefined) {
      this.timer = this.clock.setTimeout(() => {
        this.timer = undefined;
        this.flush();
      }, this.interval.ms);
    }
  }

  /** sends what waits now (at the end of a generation, or when its time is up) */
  flush(): void {
    this.stop();
    this.waiting = 0;
    if (this.text === '') return;
    const text = this.text;
    this.text = '';
    this.send(text);
  }

  /** drops the timer without sending (the stream failed or the client left) */
  stop(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }
}
