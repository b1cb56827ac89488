// `ferry optimize` as a user runs it: on a data folder (like `ferry train`) or with --server on a
// running server; the report as a table (or one JSON line with --json), the alias it moved, and
// flags that make no sense refused before any work.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_CONFIG } from '../../src/core/config.js';
import { openRegistry } from '../../src/ferry.js';
import { RECIPES } from '../../src/training/recipes.js';
import { registerTrained, runTraining, type RunOptions } from '../../src/training/run.js';
import { ferry, ROOT } from '../helpers/cli.js';
import { pushModel, startServer } from '../helpers/server.js';

const SPEC = { ...RECIPES['mnist-mlp']!, name: 'digits', dataset: { type: 'mnist', train: 400, test: 200 } as const, epochs: 3, batchSize: 32 };

describe('ferry optimize', () => {
  let data: string;
  let trained: Awaited<ReturnType<typeof runTraining>>;

  before(async () => {
    assert.ok(existsSync(path.join(ROOT, 'dist', 'cli', 'main.js')), 'dist/ is missing: npm test builds it');
    data = mkdtempSync(path.join(tmpdir(), 'ferry-optimize-cli-'));
    trained = await runTraining({ spec: SPEC } satisfies RunOptions);
    const registry = openRegistry({ ...DEFAULT_CONFIG, data });
    try {
      await registerTrained(registry, SPEC, trained);
    } finally {
      await registry.meta.close();
    }
  });
  after(() => rmSync(data, { recursive: true, force: true }));

  it('optimizes a version in the data folder and prints the report as a table', async () => {
    const r = await ferry(['optimize', 'digits:1', '--int8', '--data', data]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /quantizing \(int8, dynamic\)…/);
    const lines = r.stdout.split('\n');
    assert.match(lines[0]!, /^digits:1 → digits:2 {2}int8-dynamic {2}\([\d.]+ s, 1 onnxruntime thread per model\)$/);
    assert.match(r.stdout, /^ +original +variant +change$/m);
    assert.match(r.stdout, /^size +\d+\.\d KB +\d+\.\d KB +[3-9]\.\d\d× smaller$/m);
    assert.match(r.stdout, /^latency, batch 1 +[\d.]+ ms +[\d.]+ ms +[\d.]+× faster$/m);
    assert.match(r.stdout, /^latency, batch 64 +[\d.]+ ms +[\d.]+ ms +[\d.]+× faster$/m);
    assert.match(r.stdout, /^accuracy +0\.\d{4} +0\.\d{4} +[+-]\d+\.\d\d points$/m);
    assert.match(r.stdout, /(within|OUTSIDE) the tolerance of 0.5 accuracy points \(mnist \(test split, 200 examples\)\)/);
    assert.match(r.stdout, /^pinned digits:prod to version 1, which unversioned requests got before/m);

    const j = await ferry(['optimize', 'digits', '--fp16', '--data', data, '--json']);
    assert.equal(j.code, 0, j.stderr);
    const out = JSON.parse(j.stdout.trim().split('\n').at(-1)!);
    assert.equal(out.version.version, 3);
    assert.deepEqual(out.version.metadata.lineage, { parent: { model: 'digits', version: 1 }, transformation: 'fp16' }, 'unversioned: the version prod points at');
  });

  it('--server runs on a running server, and --deploy moves the alias when within tolerance', async () => {
    const server = await startServer();
    try {
      assert.equal((await pushModel(server.url, 'digits', trained.onnx)).status, 201);
      const r = await ferry(['--url', server.url, 'optimize', 'digits', '--server', '--prune', '0.5', '--fine-tune', '1', '--tolerance', '10', '--deploy', 'canary']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /optimizing digits:1 on the server…/);
      assert.match(r.stdout, /^digits:1 → digits:2 {2}prune-0.5-unstructured\+fine-tune/);
      assert.match(r.stdout, /^deployed: digits:canary → version 2$/m);
      const m = await (await fetch(`${server.url}/api/models/digits`)).json() as { aliases: Record<string, number> };
      assert.deepEqual(m.aliases, { prod: 1, canary: 2 });
    } finally {
      await server.close();
    }
  });

  it('refuses flags that make no sense before any work, saying what to pass', async () => {
    const cases: [string[], RegExp][] = [
      [['--prune', 'half'], /--prune must be a fraction such as 0.5, got "half"/],
      [['--prune', '2'], /prune.amount must be a fraction between 0 and 1/],
      [['--fine-tune', '1'], /--fine-tune and --structured go with --prune AMOUNT/],
      [['--int8', 'int4'], /int8 must be "dynamic" or "static", got "int4"/],
      [['--int8', '--fp16'], /ask for one of them/],
      [[], /name a transformation: int8, fp16 or prune/],
      [['--int8', '--eval-dataset', path.join(data, 'none.json')], /--eval-dataset .*none.json: no such file/],
    ];
    for (const [flags, message] of cases) {
      const r = await ferry(['optimize', 'digits:1', '--data', data, ...flags]);
      assert.equal(r.code, 1, `${flags.join(' ')}: ${r.stdout}`);
      assert.match(r.stderr, message, flags.join(' '));
    }
    const missing = await ferry(['optimize', 'nope', '--int8', '--data', data]);
    assert.match(missing.stderr, /model "nope" does not exist/);
  });
});
