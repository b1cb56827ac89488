// `ferry train RECIPE|spec.json`: trains here, in this process, with a progress bar, and registers
// the result in the data folder that `ferry serve` uses (or only writes it, with --out).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { loadConfig } from '../core/config.js';
import { FerryError } from '../core/errors.js';
import { openRegistry } from '../ferry.js';
import { checkModelName } from '../registry/names.js';
import { registerTrained, resolveParent, resolveSpec, runTraining, specBaseDir, type Parent } from '../training/run.js';
import type { JobEvent, JobRecord } from '../training/jobs/job.js';
import type { TrainSpec } from '../training/spec.js';
import { FerryClient } from './client.js';
import { decoderGguf } from '../llm/decoder-exports.js';
import { writeHfClassifier } from '../text/hf-export.js';
import { ProgressBar } from './progress.js';

export interface TrainFlags {
  epochs?: string;
  batchSize?: string;
  seed?: string;
  name?: string;
  from?: string;
  threads?: string;
  json?: boolean;
  data?: string;
  config?: string;
  out?: string;
  hfDir?: string;
  gguf?: string;
  register?: boolean;
  server?: boolean;
}

function int(flag: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new FerryError('INVALID_ARGUMENT', `${flag} must be an integer ≥ ${min}, got "${v}"`);
  return n;
}

export async function trainCommand(target: string, flags: TrainFlags, url: string, apiKey?: string): Promise<void> {
  const overrides = {
    epochs: int('--epochs', flags.epochs, 1), batchSize: int('--batch-size', flags.batchSize, 1), seed: int('--seed', flags.seed, 0),
    name: flags.name, from: flags.from,
  };
  let spec;
  let baseDir = process.cwd();
  if (target.endsWith('.json') || existsSync(target)) {
    if (!existsSync(target)) throw new FerryError('INVALID_ARGUMENT', `spec file ${target} does not exist`);
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(target, 'utf8'));
    } catch (err) {
      throw new FerryError('INVALID_ARGUMENT', `${target} is not valid JSON: ${(err as Error).message}`);
    }
    spec = resolveSpec(raw, overrides);
    baseDir = specBaseDir(target);
  } else {
    spec = resolveSpec(target, overrides);
  }
  checkModelName(spec.name); // before training, not after
  if (flags.server) return trainOnServer(spec, flags, url, apiKey);
  const register = flags.register !== false;
  const config = loadConfig({ file: flags.config, env: process.env, flags: { data: flags.data } });
  const registry = register || spec.from ? openRegistry(config) : undefined;
  try {
    let parent: Parent | undefined;
    if (spec.from) parent = await resolveParent(registry!, spec.from);
    const bar = new ProgressBar();
    const started = performance.now();
    const result = await runTraining({
      spec, baseDir, parent,
      intraOpThreads: int('--threads', flags.threads, 1) ?? availableParallelism(),
      hooks: { onProgress: (p) => bar.step(p), onEpoch: (m) => bar.epoch(m, spec.epochs) },
    });
    const seconds = (performance.now() - started) / 1000;
    if (flags.out) writeFileSync(flags.out, result.onnx);
    if (flags.hfDir) {
      if (!result.tokenizer || !result.record.classes) throw new FerryError('INVALID_ARGUMENT', '--hf-dir exports text classifiers (a text dataset with a tokenizer); this model is not one');
      writeHfClassifier(flags.hfDir, { onnx: result.onnx, classes: result.record.classes, tokenizer: result.tokenizer, record: result.record });
      process.stderr.write(`wrote a Hugging Face model folder to ${flags.hfDir}\n`);
    }
    if (flags.gguf) {
      writeFileSync(flags.gguf, decoderGguf(result.onnx, spec.name));
      process.stderr.write(`wrote a GGUF file (llama architecture) to ${flags.gguf}\n`);
    }
    const version = register ? await registerTrained(registry!, spec, result) : undefined;
    const m = result.metrics;
    const where = version ? `registered ${version.model} version ${version.version}` : flags.out ? `wrote ${flags.out}` : 'not registered (--no-register)';
    process.stderr.write(`${where}: ${m.testAccuracy !== undefined ? `test accuracy ${m.testAccuracy.toFixed(4)}, ` : ''}test loss ${m.testLoss.toFixed(4)}, ${seconds.toFixed(1)} s\n`);
    if (flags.json) {
      process.stdout.write(`${JSON.stringify({
        model: version?.model ?? spec.name, version: version?.version ?? null,
        metrics: { trainLoss: m.trainLoss, trainAccuracy: m.trainAccuracy, testLoss: m.testLoss, testAccuracy: m.testAccuracy, testF1: m.testF1, trainTerms: m.trainTerms, testTerms: m.testTerms },
        epochs: result.record.epochs.length, seconds: Number(seconds.toFixed(3)),
        trainSeconds: Number(result.record.epochs.reduce((a, e) => a + e.seconds, 0).toFixed(3)),
      })}\n`);
    }
  } finally {
    await registry?.meta.close();
  }
}

/** --server: the spec runs as a training job on the server at --url (it registers the result there,
 *  and the job survives this command); progress is read from the job's event stream. Ctrl-C cancels. */
async function trainOnServer(spec: TrainSpec, flags: TrainFlags, url: string, apiKey?: string): Promise<void> {
  const client = new FerryClient(url, apiKey);
  const started = performance.now();
  const job = (await client.postJson('/api/training-jobs', spec)) as JobRecord;
  process.stderr.write(`training job ${job.id} on ${url}\n`);
  const cancel = () => {
    process.stderr.write('\ncancelling the job…\n');
    client.delete(`/api/training-jobs/${job.id}`).catch(() => {});
  };
  process.once('SIGINT', cancel);
  const bar = new ProgressBar();
  let done: Extract<JobEvent, { type: 'done' }> | undefined;
  try {
    for await (const e of client.events(`/api/training-jobs/${job.id}/events`)) {
      const ev = e.data as JobEvent;
      if (ev.type === 'progress') bar.step(ev.progress);
      else if (ev.type === 'epoch') bar.epoch(ev.metrics, spec.epochs);
      else if (ev.type === 'interrupted') throw new FerryError('UNAVAILABLE', `${ev.message}; follow it with GET /api/training-jobs/${job.id}`);
      else if (ev.type === 'done') done = ev;
    }
  } finally {
    process.off('SIGINT', cancel);
  }
  if (!done) throw new FerryError('UNAVAILABLE', `the event stream of job ${job.id} ended early; GET /api/training-jobs/${job.id} shows where it is`);
  if (done.state !== 'succeeded') throw new FerryError(done.state === 'cancelled' ? 'CANCELLED' : 'INVALID_ARGUMENT', `training job ${job.id} ${done.state}${done.error ? `: ${done.error}` : ''}`);
  const final = (await client.get(`/api/training-jobs/${job.id}`)) as JobRecord;
  const m = final.epochs.at(-1)!;
  const seconds = (performance.now() - started) / 1000;
  process.stderr.write(`registered ${done.result!.model} version ${done.result!.version} on ${url}: ${m.testAccuracy !== undefined ? `test accuracy ${m.testAccuracy.toFixed(4)}, ` : ''}test loss ${m.testLoss.toFixed(4)}, ${seconds.toFixed(1)} s\n`);
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({
      model: done.result!.model, version: done.result!.version, job: job.id,
      metrics: { trainLoss: m.trainLoss, trainAccuracy: m.trainAccuracy, testLoss: m.testLoss, testAccuracy: m.testAccuracy, testF1: m.testF1, trainTerms: m.trainTerms, testTerms: m.testTerms },
      epochs: final.epochs.length, seconds: Number(seconds.toFixed(3)),
      trainSeconds: Number(final.epochs.reduce((a, e) => a + e.seconds, 0).toFixed(3)),
    })}\n`);
  }
}
