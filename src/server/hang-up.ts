// "The client went away": a request whose connection closes before its answer is written should stop
// its work (drop its queued batch rows, stop an explanation, cancel an optimize run). One helper, so
// every route also catches the connection that closed while its body was still being decoded — after
// that, 'close' has fired already and will not fire again.
import type { FastifyReply } from 'fastify';

/** Calls `onGone` once if the connection closes before the reply is finished (or already has). */
export function onHangUp(reply: FastifyReply, onGone: () => void): void {
  const res = reply.raw;
  if (res.destroyed && !res.writableFinished) {
    onGone();
    return;
  }
  res.once('close', () => {
    if (!res.writableFinished) onGone();
  });
}

/** A signal aborted when the client goes away before its answer is written. */
export function hangUpSignal(reply: FastifyReply): AbortSignal {
  const abort = new AbortController();
  onHangUp(reply, () => abort.abort());
  return abort.signal;
}
