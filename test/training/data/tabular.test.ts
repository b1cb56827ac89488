import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { parseCsv } from '../../../src/training/data/csv.js';
import type { Dataset, DatasetSpec } from '../../../src/training/data/dataset.js';
import { loadDataset } from '../../../src/training/data/load.js';
import { scratch } from './support.js';

const tmp = scratch('tabular');
after(tmp.remove);
const write = (name: string, text: string) => {
  writeFileSync(path.join(tmp.dir, name), text);
  return name;
};
const load = (spec: DatasetSpec) => loadDataset(spec, { baseDir: tmp.dir });
const at = (name: string) => path.join(tmp.dir, name).replace(/[.\\/]/g, '\\$&');
const invalidWith = (pattern: RegExp) => (e: Error & { code?: string }) => {
  assert.equal(e.code, 'INVALID_ARGUMENT');
  assert.match(e.message, pattern);
  return true;
};

/** Rows of both sides of the split, keyed by their first feature, as [features, label]. */
function rows(ds: Dataset): Map<number, [number[], number]> {
  const k = ds.featureShape[0]!;
  const out = new Map<number, [number[], number]>();
  for (const side of [ds.train, ds.test]) {
    const t = side.y.length / side.n;
    for (let r = 0; r < side.n; r++) out.set(side.x[r * k]!, [[...side.x.subarray(r * k, (r + 1) * k)], t === 1 ? side.y[r]! : NaN]);
  }
  return out;
}

describe('parseCsv', () => {
  it('follows RFC 4180 quoting: commas, "" and newlines inside quotes, CRLF', () => {
    const recs = parseCsv('name,note\r\n"a,b","say ""hi"""\r\n\r\nplain,"two\nlines"\n"",x\n', 'f.csv');
    assert.deepEqual(recs, [
      { line: 1, fields: ['name', 'note'] },
      { line: 2, fields: ['a,b', 'say "hi"'] },
      { line: 4, fields: ['plain', 'two\nlines'] },
      { line: 6, fields: ['', 'x'] },
    ]);
    assert.deepEqual(parseCsv('a,,c', 'g'), [{ line: 1, fields: ['a', '', 'c'] }]);
    assert.deepEqual(parseCsv('""', 'g'), [{ line: 1, fields: [''] }]);
  });

  it('names the line of a broken quote', () => {
    assert.throws(() => parseCsv('a\n"open\nstill open', 'f.csv'), invalidWith(/f.csv line 2: a quoted field is never closed/));
    assert.throws(() => parseCsv('a,b\n"x"y,1', 'f.csv'), invalidWith(/f.csv line 2: unexpected "y" after a closing quote/));
  });
});

describe('csv datasets', () => {
  const iris = write('iris.csv', [
    'sl,sw,"species"',
    ...Array.from({ length: 9 }, (_, i) => `${i},${i / 10},${['virginica', 'setosa', '"versicolor, large"'][i % 3]}`),
  ].join('\r\n') + '\r\n');

  it('uses every column but the label as features and the sorted label names as classes', async () => {
    const ds = await load({ type: 'csv', path: iris, label: 'species' });
    assert.equal(ds.name, 'iris.csv');
    assert.deepEqual(ds.featureShape, [2]);
    assert.deepEqual(ds.classes, ['setosa', 'versicolor, large', 'virginica']);
    assert.equal(ds.targetSize, undefined);
    assert.ok(ds.train.y instanceof Int32Array);
    assert.deepEqual([ds.train.n, ds.test.n], [7, 2]);
    const byFirst = rows(ds);
    for (let i = 0; i < 9; i++) {
      const [x, y] = byFirst.get(i)!;
      assert.ok(Math.abs(x[1]! - i / 10) < 1e-6);
      assert.equal(y, [2, 0, 1][i % 3]);
    }
    assert.deepEqual(ds.record, { type: 'csv', source: path.join(tmp.dir, iris), trainSize: 7, testSize: 2, split: 'seeded shuffle (splitSeed 0), 20% test' });
  });

  it('takes only the listed features, in the listed order', async () => {
    const ds = await load({ type: 'csv', path: iris, label: 'species', features: ['sw', 'sl'] });
    const [x] = rows(ds).get(0.5)!;
    assert.ok(Math.abs(x[0]! - 0.5) < 1e-6);
    assert.equal(x[1], 5);
  });

  it('integer labels are classes in numeric order; fractional labels are regression targets', async () => {
    const ints = await load({ type: 'csv', path: write('ints.csv', 'x,y\n1,10\n2,2\n3,10\n4,9\n'), label: 'y' });
    assert.deepEqual(ints.classes, ['2', '9', '10']);
    assert.equal(rows(ints).get(1)![1], 2);
    const reg = await load({ type: 'csv', path: write('reg.csv', 'x,price\n1,1.5\n2,2.5\n3,3\n4,-0.25\n5,8\n'), label: 'price' });
    assert.equal(reg.classes, undefined);
    assert.equal(reg.targetSize, 1);
    assert.ok(reg.train.y instanceof Float32Array);
    assert.deepEqual([...reg.train.y, ...reg.test.y].sort((a, b) => a - b), [-0.25, 1.5, 2.5, 3, 8]);
    const forced = await load({ type: 'csv', path: 'ints.csv', label: 'y', task: 'regression' });
    assert.equal(forced.targetSize, 1);
    assert.deepEqual([...forced.train.y, ...forced.test.y].sort((a, b) => a - b), [2, 9, 10, 10]);
  });

  it('names the line, column and problem in a bad file', async () => {
    await assert.rejects(load({ type: 'csv', path: write('bad.csv', 'a,b,y\n1,2,x\n1,oops,x\n'), label: 'y' }), invalidWith(new RegExp(`${at('bad.csv')} line 3, column "b": "oops" is not a number`)));
    await assert.rejects(load({ type: 'csv', path: write('blank.csv', 'a,y\n1,x\n,x\n'), label: 'y' }), invalidWith(/blank.csv line 3, column "a": "" is not a number/));
    await assert.rejects(load({ type: 'csv', path: write('wide.csv', 'a,y\n1,x\n1,2,x\n'), label: 'y' }), invalidWith(/wide.csv line 3 has 3 fields but the header has 2; quote fields that contain commas/));
    await assert.rejects(load({ type: 'csv', path: iris, label: 'kind' }), invalidWith(/iris.csv has no column "kind"; its columns are "sl", "sw", "species"/));
    await assert.rejects(load({ type: 'csv', path: iris, label: 'species', features: ['sl', 'petal'] }), invalidWith(/has no column "petal"/));
    await assert.rejects(load({ type: 'csv', path: iris, label: 'species', features: ['species'] }), invalidWith(/the label "species" is also listed in features/));
    await assert.rejects(load({ type: 'csv', path: write('nolabel.csv', 'a,y\n1,x\n2,\n'), label: 'y' }), invalidWith(/nolabel.csv line 3 is unlabeled: column "y" is empty/));
    await assert.rejects(load({ type: 'csv', path: write('head.csv', 'a,y\n'), label: 'y' }), invalidWith(/head.csv has a header but no rows/));
    await assert.rejects(load({ type: 'csv', path: write('empty.csv', ''), label: 'y' }), invalidWith(/empty.csv is empty/));
    await assert.rejects(load({ type: 'csv', path: write('dup.csv', 'a,a,y\n1,2,3\n'), label: 'y' }), invalidWith(/dup.csv has two columns named "a"/));
    await assert.rejects(load({ type: 'csv', path: write('mixed.csv', 'a,y\n1,0.5\n2,high\n'), label: 'y' }), invalidWith(/mixed.csv line 3: label "y" is "high", not a number; regression targets are numbers/));
    await assert.rejects(load({ type: 'csv', path: write('one.csv', 'a,y\n1,x\n'), label: 'y' }), invalidWith(/dataset has 1 examples; need at least 2 to split/));
  });
});

describe('jsonl datasets', () => {
  const lines = (objs: unknown[]) => objs.map((o) => JSON.stringify(o)).join('\n') + '\n';
  const points = write('points.jsonl', lines(Array.from({ length: 10 }, (_, i) => ({ id: i, xy: [i, -i], label: i % 2 ? 'odd' : 'even' }))));

  it('reads one array field as the features', async () => {
    const ds = await load({ type: 'jsonl', path: points, features: 'xy', label: 'label' });
    assert.equal(ds.name, 'points.jsonl');
    assert.deepEqual(ds.featureShape, [2]);
    assert.deepEqual(ds.classes, ['even', 'odd']);
    assert.deepEqual(rows(ds).get(3), [[3, -3], 1]);
    assert.equal(ds.record.type, 'jsonl');
  });

  it('reads several numeric fields as the features, skipping blank lines', async () => {
    const file = write('fields.jsonl', '{"a": 1, "b": 2, "c": 3}\n\n  \n{"a": 4, "b": 5, "c": 4}\r\n{"a": 7, "b": 8, "c": 3}\n');
    const ds = await load({ type: 'jsonl', path: file, features: ['b', 'a'], label: 'c', testFraction: 0.34 });
    assert.deepEqual(ds.classes, ['3', '4']);
    assert.deepEqual([ds.train.n, ds.test.n], [2, 1]);
    assert.deepEqual(rows(ds).get(5), [[5, 4], 1]);
  });

  it('list labels are regression targets of that length', async () => {
    const file = write('targets.jsonl', lines([{ x: [1], t: [0.5, 1] }, { x: [2], t: [1.5, 2] }, { x: [3], t: [2.5, 3] }]));
    const ds = await load({ type: 'jsonl', path: file, features: 'x', label: 't', testFraction: 0.34 });
    assert.equal(ds.targetSize, 2);
    assert.equal(ds.train.y.length, 4);
    const all = [ds.train, ds.test].flatMap((s) => Array.from({ length: s.n }, (_, r) => [s.x[r]!, ...s.y.subarray(2 * r, 2 * r + 2)]));
    assert.deepEqual(all.sort((a, b) => a[0]! - b[0]!), [[1, 0.5, 1], [2, 1.5, 2], [3, 2.5, 3]]);
  });

  it('the same splitSeed gives the same split', async () => {
    const spec = { type: 'jsonl', path: points, features: 'xy', label: 'label', splitSeed: 9 } as const;
    const [a, b, c] = await Promise.all([load(spec), load(spec), load({ ...spec, splitSeed: 10 })]);
    assert.deepEqual(a.test.x, b.test.x);
    assert.notDeepEqual(a.test.x, c.test.x);
    assert.equal(a.record.split, 'seeded shuffle (splitSeed 9), 20% test');
  });

  it('names the line, field and problem in a bad file', async () => {
    const bad = (name: string, text: string, features: string | string[] = ['a']) => load({ type: 'jsonl', path: write(name, text), features, label: 'y' });
    await assert.rejects(bad('json.jsonl', '{"a": 1, "y": 0}\n{"a": 2, y: 1}\n'), invalidWith(/json.jsonl line 2 is not valid JSON/));
    await assert.rejects(bad('arr.jsonl', '{"a": 1, "y": 0}\n[1, 2]\n'), invalidWith(/arr.jsonl line 2 is \[1,2\], not a JSON object/));
    await assert.rejects(bad('missing.jsonl', '{"a": 1, "y": 0}\n\n{"b": 2, "y": 1}\n'), invalidWith(/missing.jsonl line 3 has no field "a"/));
    await assert.rejects(bad('text.jsonl', '{"a": 1, "y": 0}\n{"a": "2", "y": 1}\n'), invalidWith(/text.jsonl line 2 field "a" is "2", not a number/));
    await assert.rejects(bad('len.jsonl', '{"a": [1, 2], "y": 0}\n{"a": [1], "y": 1}\n', 'a'), invalidWith(/len.jsonl line 2 field "a" has 1 numbers but line 1 has 2/));
    await assert.rejects(bad('notarr.jsonl', '{"a": 3, "y": 0}\n', 'a'), invalidWith(/notarr.jsonl line 1 field "a" is 3; send a non-empty array of numbers/));
    await assert.rejects(bad('unlabeled.jsonl', '{"a": 1, "y": 0}\n{"a": 2}\n'), invalidWith(/unlabeled.jsonl line 2 is unlabeled: it has no "y" field/));
    await assert.rejects(bad('nulllabel.jsonl', '{"a": 1, "y": null}\n'), invalidWith(/line 1 is unlabeled/));
    await assert.rejects(bad('empty.jsonl', '\n\n'), invalidWith(/empty.jsonl has no rows/));
    await assert.rejects(bad('tlen.jsonl', '{"a": 1, "y": [1, 2]}\n{"a": 2, "y": [1]}\n'), invalidWith(/tlen.jsonl line 2: label "y" has 1 values but .*tlen.jsonl line 1 has 2/));
    await assert.rejects(load({ type: 'jsonl', path: write('cls.jsonl', '{"a": 1, "y": [1]}\n{"a": 2, "y": [2]}\n'), features: ['a'], label: 'y', task: 'classification' }),
      invalidWith(/cls.jsonl line 1: label "y" is a list, which cannot be a class/));
    await assert.rejects(load({ type: 'jsonl', path: points, features: [], label: 'label' }), invalidWith(/features must be a field name or a non-empty list of field names/));
    await assert.rejects(load({ type: 'jsonl', path: 'absent.jsonl', features: 'xy', label: 'label' }), invalidWith(new RegExp(`JSONL file ${at('absent.jsonl')} does not exist`)));
  });
});

describe('loadDataset', () => {
  it('refuses an unknown type and a spec field that is not a path', async () => {
    await assert.rejects(loadDataset({ type: 'parquet' } as never), invalidWith(/unknown dataset type "parquet"; send one of "mnist", "idx", "jsonl", "csv", "images"/));
    await assert.rejects(loadDataset({ type: 'csv', path: 42, label: 'y' } as never), invalidWith(/csv dataset field "path" must be a path, got 42/));
    await assert.rejects(loadDataset(null as never), invalidWith(/a dataset spec must be an object/));
  });
});
