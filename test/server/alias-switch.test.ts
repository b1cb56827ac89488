// Moving `prod` from one version to another under load: no request fails, every answer comes whole
// from one version, and the new version is in memory before the first request follows the alias.
import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { mlpModel, mlpParams, mlpReference } from '../fixtures/models.js';
import { pushModel, startServer, type TestServer } from '../helpers/server.js';

const PARAMS = { '1': mlpParams({ seed: 101 }), '2': mlpParams({ seed: 202 }), '3': mlpParams({ seed: 303 }) };
const INPUT_SIZE = PARAMS['1'].inputs;
const WORKERS = 8;
/** answers wanted from each side of the switch */
const PER_SIDE = 60;

/** A few fixed inputs, with every version's expected outputs for each. */
const INPUTS = Array.from({ length: 4 }, (_, k) => Float32Array.from({ length: INPUT_SIZE }, (_, i) => Math.cos(k * 13 + i * 0.1)));
const EXPECTED = Object.fromEntries(Object.entries(PARAMS).map(([v, p]) => [v, INPUTS.map((x) => mlpReference(p, x, 1))])) as Record<string, Float32Array[]>;

interface Outcome {
  input: number;
  sentAt: number;
  doneAt: number;
  status: number;
  version?: string;
  data?: number[];
  error?: string;
}

interface ModelView { aliases: Record<string, number>; versions: { version: number; loaded: boolean }[] }

const close = (a: readonly number[] | undefined, b: Float32Array) => a !== undefined && a.length === b.length && a.every((v, i) => Math.abs(v - b[i]!) < 1e-4);

function putAlias(s: TestServer, alias: string, version: number): Promise<Response> {
  return fetch(`${s.url}/api/models/mlp/aliases/${alias}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ version }) });
}

/**
 * Runs WORKERS clients that send unversioned requests back to back. Once PER_SIDE have been answered,
 * `change` runs (the switch); the stream stops when PER_SIDE requests sent after the change returned
 * have been answered. Returns every outcome and when the change was sent and returned.
 */
async function underLoad(s: TestServer, change: () => Promise<void>, watch?: () => Promise<void>) {
  const outcomes: Outcome[] = [];
  let sentAt = Infinity, doneAt = Infinity, stop = false;
  let steady!: () => void;
  const isSteady = new Promise<void>((r) => (steady = r));
  let seq = 0;
  const worker = async () => {
    while (!stop) {
      const input = seq++ % INPUTS.length;
      const body = JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, INPUT_SIZE], data: Array.from(INPUTS[input]!) }] });
      const o: Outcome = { input, sentAt: performance.now(), doneAt: 0, status: 0 };
      try {
        const res = await fetch(`${s.url}/v2/models/mlp/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        o.status = res.status;
        const json = (await res.json()) as { model_version?: string; outputs?: { data: number[] }[]; error?: string };
        o.version = json.model_version;
        o.data = json.outputs?.[0]?.data;
        o.error = json.error;
      } catch (err) {
        o.error = (err as Error).message;
      }
      o.doneAt = performance.now();
      outcomes.push(o);
      if (outcomes.length >= PER_SIDE) steady();
      if (outcomes.filter((x) => x.sentAt > doneAt).length >= PER_SIDE) stop = true;
    }
  };
  const switcher = async () => {
    await isSteady;
    sentAt = performance.now();
    try {
      await change();
    } finally {
      doneAt = performance.now();
    }
  };
  const watcher = async () => {
    while (!stop) await watch!();
  };
  await Promise.all([...Array.from({ length: WORKERS }, worker), switcher(), ...(watch ? [watcher()] : [])]);
  return {
    outcomes,
    /** answered before the change was sent */
    before: outcomes.filter((o) => o.doneAt < sentAt),
    /** sent after the change returned */
    after: outcomes.filter((o) => o.sentAt > doneAt),
  };
}

function assertAllAnswered(outcomes: Outcome[]): void {
  assert.deepEqual(outcomes.filter((o) => o.status !== 200), [], 'no request failed');
  for (const o of outcomes) {
    assert.ok(o.version !== undefined && o.version in EXPECTED, `answered by version ${o.version}`);
    assert.ok(close(o.data, EXPECTED[o.version]![o.input]!), `the answer matches version ${o.version}'s reference exactly`);
  }
}

const versionsOf = (list: Outcome[]) => [...new Set(list.map((o) => o.version))].sort();

describe('moving the prod alias under load', () => {
  let s: TestServer;
  const shas: Record<string, string> = {};
  before(async () => {
    s = await startServer();
    for (const v of ['1', '2', '3'] as const) {
      const r = await pushModel(s.url, 'mlp', mlpModel(PARAMS[v]));
      assert.equal(r.status, 201);
      shas[v] = ((await r.json()) as { sha256: string }).sha256;
    }
    assert.equal((await putAlias(s, 'prod', 1)).status, 200);
  });
  after(() => s.close());

  it('loses no request, answers from v1 before and v2 after, and loads v2 before the alias moves', async (t) => {
    // One GET reads the alias and the loaded state together: whenever it shows prod=2, v2 must be loaded.
    const snapshots: { prod?: number; v2Loaded: boolean }[] = [];
    const watch = async () => {
      const m = (await (await fetch(`${s.url}/api/models/mlp`)).json()) as ModelView;
      snapshots.push({ prod: m.aliases.prod, v2Loaded: m.versions.find((v) => v.version === 2)!.loaded });
    };
    let indexAfterPut: { name: string; version: string; state: string }[] = [];
    const run = await underLoad(s, async () => {
      const res = await putAlias(s, 'prod', 2);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { model: 'mlp', alias: 'prod', version: 2, previous: 1 });
      indexAfterPut = (await (await fetch(`${s.url}/v2/repository/index`, { method: 'POST' })).json()) as typeof indexAfterPut;
    }, watch);
    t.diagnostic(`${run.outcomes.length} requests, ${run.before.length} answered before the switch, ${run.after.length} sent after it`);

    assertAllAnswered(run.outcomes);
    assert.ok(run.before.length >= PER_SIDE && run.after.length >= PER_SIDE);
    assert.deepEqual(versionsOf(run.before), ['1'], 'everything answered before the switch came from v1');
    assert.deepEqual(versionsOf(run.after), ['2'], 'everything sent after the switch went to v2');

    assert.equal(indexAfterPut.find((r) => r.name === 'mlp' && r.version === '2')?.state, 'READY', 'v2 is READY right after the PUT returns');
    assert.equal(indexAfterPut.find((r) => r.name === 'mlp' && r.version === '1')?.state, 'UNAVAILABLE', 'v1, which nothing points at any more, is unloaded once it has answered');
    assert.ok(snapshots.some((x) => x.prod === 2), 'the watcher saw the alias move');
    assert.deepEqual(snapshots.filter((x) => x.prod === 2 && !x.v2Loaded), [], 'whenever prod pointed at 2, version 2 was already loaded');
    // The switch loaded v2 once and no request had to load it again.
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    assert.match(metrics, /ferry_model_loads_total\{model="mlp",version="2",outcome="success"\} 1\n/);
  });

  it('leaves prod where it was when the new version cannot load, and loses no request', async () => {
    // Version 3 passed its checks at upload; now its file disappears from the store, so loading it fails.
    const dir = path.join(s.dataDir, 'artifacts', 'models', 'mlp');
    const file = readdirSync(dir).find((f) => f.startsWith(shas['3']!.slice(0, 16)));
    assert.ok(file, `version 3's file is in ${dir}`);
    rmSync(path.join(dir, file));

    let failed: { status: number; body: { error: { code: string; message: string } } } | undefined;
    const run = await underLoad(s, async () => {
      const res = await putAlias(s, 'prod', 3);
      failed = { status: res.status, body: (await res.json()) as { error: { code: string; message: string } } };
    });
    assert.equal(failed?.status, 503, JSON.stringify(failed?.body));
    assert.equal(failed.body.error.code, 'UNAVAILABLE');
    assert.match(failed.body.error.message, /version 3 failed to load/);

    assertAllAnswered(run.outcomes);
    assert.deepEqual(versionsOf(run.outcomes), ['2'], 'every request, during and after the failed switch, went to v2');
    const m = (await (await fetch(`${s.url}/api/models/mlp`)).json()) as ModelView;
    assert.equal(m.aliases.prod, 2, 'prod still points at v2');
  });
});
