// wrk run asynchronously (a child process, not spawnSync), for benches that must keep their own event
// loop busy while it drives load: a poller on a timer, a training job's event stream being read.
import { spawn } from 'node:child_process';

export interface Wrk { rps: number; p50: number; p99: number; errors: number }

/** One `wrk -t1` run with a Lua script that reads its request body from $BODY; its summary parsed
 *  as bench/serve.ts does (latencies in ms, errors = non-2xx answers + socket errors). */
export function wrkAsync(url: string, connections: number, seconds: number, script: string, body: string): Promise<Wrk> {
  return new Promise((resolve, reject) => {
    const p = spawn('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '--timeout', '10s', '-s', script, url], { env: { ...process.env, BODY: body } });
    let raw = '';
    p.stdout.on('data', (d: Buffer) => (raw += d.toString()));
    p.stderr.on('data', (d: Buffer) => (raw += d.toString()));
    p.on('error', reject);
    p.on('close', () => {
      const ms = (label: string) => {
        const m = raw.match(new RegExp(`^\\s*${label}\\s+([\\d.]+)(us|ms|s)`, 'm'));
        return m ? Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1) : NaN;
      };
      const non2xx = Number(raw.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0);
      const sockErr = raw.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
      const errors = non2xx + (sockErr ? sockErr.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
      const rps = Number(raw.match(/Requests\/sec:\s+([\d.]+)/)?.[1] ?? NaN);
      if (Number.isNaN(rps)) reject(new Error(`wrk printed no result: ${raw.trim().slice(-300)}`));
      else resolve({ rps, p50: ms('50%'), p99: ms('99%'), errors });
    });
  });
}
