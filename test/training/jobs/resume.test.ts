// A training job survives `kill -9` of the server: on the next start it continues from the last
// epoch checkpoint, and — training being deterministic for a seed — ends with exactly the metrics of
// a run that was never interrupted.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { EpochMetrics } from '../../../src/training/record.js';
import { runTraining } from '../../../src/training/run.js';
import { parseSpec } from '../../../src/training/spec.js';
import { BIN, envWith, freePort, ROOT } from '../../helpers/cli.js';
import { readEvents } from './sse.js';


const SPEC = {
  name: 'resumed', dataset: { type: 'mnist', train: 4000, test: 1000 },
  model: [{ type: 'Linear', in: 784, out: 64 }, { type: 'ReLU' }, { type: 'Dropout', p: 0.2 }, { type: 'Linear', in: 64, out: 10 }],
  loss: 'crossEntropy', optimizer: { type: 'adamw', lr: 0.002 }, schedule: { type: 'cosine' }, epochs: 8, batchSize: 32, seed: 11,
};

function serve(port: number, data: string): { child: ChildProcess; ready: Promise<void>; adminKey: Promise<string> } {
  const env = envWith({ FERRY_BUILTIN_MODELS: 'false' });
  const child = spawn(process.execPath, [BIN, 'serve', '--port', String(port), '--data', data, '--log-level', 'info'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const ready = new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('"msg":"ferry is serving"')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`server exited (${code}) before serving: ${out}`)));
  });
  // a first start prints its admin key once, on stderr
  const adminKey = new Promise<string>((resolve) => {
    let err = '';
    child.stderr!.on('data', (c: Buffer) => {
      err += c.toString();
      const m = /^ {4}(fy_\S+)$/m.exec(err);
      if (m) resolve(m[1]!);
    });
  });
  return { child, ready, adminKey };
}

const withoutTimes = (ms: readonly EpochMetrics[]) => ms.map(({ seconds: _s, samplesPerSec: _r, ...m }) => m);

describe('training job checkpoints', () => {
  const data = mkdtempSync(path.join(tmpdir(), 'ferry-resume-'));
  const children: ChildProcess[] = [];
  after(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    rmSync(data, { recursive: true, force: true });
  });

  it('resumes after kill -9 from the last epoch and ends with the uninterrupted run\'s metrics', async () => {
    assert.ok(existsSync(path.join(ROOT, 'dist', 'cli', 'main.js')), 'dist/ is missing: npm test builds it');
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const first = serve(port, data);
    children.push(first.child);
    await first.ready;
    const key = await first.adminKey;
    const auth = { authorization: `Bearer ${key}` };
    const res = await fetch(`${url}/api/training-jobs`, { method: 'POST', body: JSON.stringify(SPEC), headers: { 'content-type': 'application/json', ...auth } });
    assert.equal(res.status, 201, await res.clone().text());
    const { id } = (await res.json()) as { id: string };

    // kill the server the moment the first epoch's checkpoint is on disk
    await readEvents(`${url}/api/training-jobs/${id}/events`, (e) => e.event === 'epoch', key);
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));

    const second = serve(port, data);
    children.push(second.child);
    await second.ready;
    const events = await readEvents(`${url}/api/training-jobs/${id}/events`, undefined, key);
    assert.deepEqual(events.at(-1)!.data, { type: 'done', state: 'succeeded', result: { model: 'resumed', version: 1 } });
    const job = (await (await fetch(`${url}/api/training-jobs/${id}`, { headers: auth })).json()) as { resumedFromEpoch: number; epochs: EpochMetrics[] };
    assert.ok(job.resumedFromEpoch >= 1 && job.resumedFromEpoch < 8, `resumed from epoch ${job.resumedFromEpoch}`);
    assert.deepEqual(job.epochs.map((e) => e.epoch), [1, 2, 3, 4, 5, 6, 7, 8], 'every epoch once, none lost or repeated');
    second.child.kill('SIGTERM');
    await new Promise((r) => second.child.once('exit', r));

    const straight = await runTraining({ spec: parseSpec(SPEC), intraOpThreads: 1 });
    assert.deepEqual(withoutTimes(job.epochs), withoutTimes(straight.record.epochs), 'same metrics as a run that was never stopped');
  });
});
