// When an explanation must stop before it is done: its client went away (the route aborts the
// signal when the connection closes before the reply is written), or its time limit passed. The
// work is a loop of onnxruntime runs or model-pool requests, so it checks between them.
//
// The time limit is read from the injected clock at every check as well as by a timer: a run that
// resolves within microtasks would never let the timer fire, and a fake clock moves only when a test
// says so.
//
//   const stop = { signal: abort.signal, deadline: { at: clock.now() + 30_000, now: () => clock.now(), limitMs: 30_000, source: 'server' } };
//   checkStop(stop, 'ask for fewer "steps"');   // throws DEADLINE_EXCEEDED or CANCELLED, else returns
import { FerryError } from '../core/errors.js';

export interface Deadline {
  /** the clock reading past which the work stops */
  readonly at: number;
  readonly now: () => number;
  /** the limit as given, for the message */
  readonly limitMs: number;
  /** 'request': the V2 `timeout` parameter; 'server': the server's default */
  readonly source: 'request' | 'server';
}

export interface StopWhen {
  readonly signal?: AbortSignal;
  readonly deadline?: Deadline;
}

/** The reason a signal is aborted with when its deadline's timer fires. */
export class DeadlinePassed {
  constructor(readonly deadline: Deadline) {}
}

/** The error to stop with, or undefined to go on. `hint` says how to ask for less work. */
export function stopError(stop: StopWhen | undefined, hint: string): FerryError | undefined {
  if (!stop) return undefined;
  const reason: unknown = stop.signal?.aborted ? stop.signal.reason : undefined;
  const d = reason instanceof DeadlinePassed ? reason.deadline : stop.deadline && stop.deadline.now() >= stop.deadline.at ? stop.deadline : undefined;
  if (d) {
    const limit = d.source === 'request' ? `the request's "timeout" of ${d.limitMs} ms` : `the server's limit of ${d.limitMs} ms for an explanation`;
    return new FerryError('DEADLINE_EXCEEDED', `the explanation did not finish within ${limit}; ${hint}${d.source === 'request' ? ', or send a longer "timeout"' : ''}`);
  }
  if (stop.signal?.aborted) {
    return reason instanceof FerryError ? reason : new FerryError('CANCELLED', 'the client closed the connection; the explanation was stopped');
  }
  return undefined;
}

export function checkStop(stop: StopWhen | undefined, hint: string): void {
  const err = stopError(stop, hint);
  if (err) throw err;
}
