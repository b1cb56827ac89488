// Process helpers the benchmarks share: a free loopback port, stopping a server process, and the
// admin key a fresh Ferry data folder prints.
import type { ChildProcess } from 'node:child_process';
import net from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Asks the process to stop, then kills it if it has not within 10 s. */
export function stop(proc: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
    proc.once('exit', () => resolve());
    proc.kill(signal);
    setTimeout(() => proc.kill('SIGKILL'), 10_000).unref();
  });
}

/** The admin key `ferry serve` prints on a fresh data folder (once, on stderr). */
export const ADMIN_KEY = /fy_[0-9a-f]{12}_[A-Za-z0-9_-]{43}/;

/** Resolves with the admin key once the process prints it; listen before the server starts listening. */
export function adminKeyFrom(proc: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    proc.stderr!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const m = ADMIN_KEY.exec(text);
      if (m) resolve(m[0]);
    });
    proc.once('exit', () => reject(new Error(`ferry exited before printing its admin key: ${text.slice(0, 500)}`)));
  });
}
