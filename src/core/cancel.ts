// A one-shot cancellation flag for a request whose client may go away. AbortController would do, but
// creating one per request plus its EventTarget listeners measured 3% of the serving CPU, and each
// request has exactly one party to tell (its queue), so one listener is enough.
export class Cancellation {
  private listener: (() => void) | undefined;
  private done = false;

  get cancelled(): boolean {
    return this.done;
  }

  cancel(): void {
    if (this.done) return;
    this.done = true;
    const l = this.listener;
    this.listener = undefined;
    l?.();
  }

  /** Sets the listener (one at a time); returns a function that removes it. */
  onCancel(fn: () => void): () => void {
    this.listener = fn;
    return () => {
      if (this.listener === fn) this.listener = undefined;
    };
  }
}
