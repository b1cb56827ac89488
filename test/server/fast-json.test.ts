import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { NumericData, parseV2Json } from '../../src/server/kserve-v2/fast-json.js';

const flat = (v: unknown): unknown[] => (Array.isArray(v) ? v.flatMap(flat) : [v]);

interface Input { name: string; datatype: string; shape: number[]; data: unknown }

/** What the V2 decoder ends up with for one input: FP32 data rounded to float32, other data as doubles. */
function values(input: Input, data: unknown): number[] {
  const nums = data instanceof NumericData ? Array.from(data.values) : (flat(data) as number[]);
  return input.datatype === 'FP32' ? nums.map(Math.fround) : nums;
}

function assertSameTensors(text: string): void {
  const expected = JSON.parse(text) as { inputs: Input[] };
  const got = parseV2Json(Buffer.from(text)) as { inputs: Input[] };
  assert.equal(got.inputs.length, expected.inputs.length);
  got.inputs.forEach((g, k) => {
    const e = expected.inputs[k]!;
    assert.deepEqual({ ...g, data: undefined }, { ...e, data: undefined });
    const a = values(e, e.data), b = values(g, g.data);
    assert.equal(b.length, a.length);
    // Object.is tells -0 from 0: the fast path must be bit-identical, not merely close.
    a.forEach((x, i) => assert.ok(Object.is(x, b[i]), `${text.slice(0, 120)}: element ${i}: JSON.parse gave ${x}, fast path ${b[i]}`));
  });
}

const numberText = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => JSON.stringify(x)),
  fc.float({ noNaN: true, noDefaultInfinity: true }).map((x) => JSON.stringify(x)),
  fc.integer().map(String),
  fc.tuple(fc.integer({ min: 0, max: 99999 }), fc.integer({ min: 0, max: 9999999 }), fc.boolean())
    .map(([a, b, neg]) => `${neg ? '-' : ''}${a}.${String(b).padStart(7, '0')}`),
  fc.tuple(fc.integer({ min: 1, max: 9 }), fc.integer({ min: -40, max: 40 })).map(([m, e]) => `${m}e${e}`),
  fc.constantFrom('0', '-0', '0.0', '1E5', '1e+2', '123456789012345678901234', '0.30000000000000004', '3.4028235677973366e38', '1.401298464324817e-45'),
);

const space = fc.constantFrom('', ' ', '\n  ', '\t');

describe('parseV2Json', () => {
  it('parses an MNIST-shaped request to the same float32 values as JSON.parse', () => {
    const data = Array.from({ length: 784 }, (_, i) => Math.fround(Math.abs(Math.sin(i))));
    assertSameTensors(JSON.stringify({ inputs: [{ name: 'input', shape: [1, 784], datatype: 'FP32', data }] }));
  });

  it('gives bit-identical numbers to JSON.parse for any number text, dtype and layout', () => {
    fc.assert(
      fc.property(
        fc.array(numberText, { minLength: 0, maxLength: 40 }),
        fc.constantFrom('FP32', 'FP64', 'INT32', 'INT64'),
        fc.boolean(),
        fc.boolean(),
        space,
        (nums, datatype, nested, datatypeFirst, ws) => {
          const half = Math.floor(nums.length / 2);
          const arr = nested ? `[${ws}[${nums.slice(0, half).join(`,${ws}`)}],[${nums.slice(half).join(',')}]${ws}]` : `[${nums.join(`${ws},`)}]`;
          const fields = datatypeFirst ? `"datatype":"${datatype}",${ws}"data":${ws}${arr}` : `"data":${arr},"datatype":"${datatype}"`;
          assertSameTensors(`{"inputs":[{"name":"x","shape":[${nums.length}],${fields}},{"name":"y","datatype":"FP64","shape":[2],"data":[0.1,1e-7]}]}`);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('leaves everything that is not a plain numeric array to JSON.parse', () => {
    for (const text of [
      '{"inputs":[{"name":"s","datatype":"BYTES","shape":[2],"data":["a","b"]}]}',
      '{"inputs":[{"name":"b","datatype":"BOOL","shape":[2],"data":[true,false]}]}',
      '{"inputs":[{"name":"m","datatype":"FP32","shape":[2],"data":[1,"2"]}]}',
      '{"note":"a string with \\"data\\": [1,2] inside","inputs":[]}',
    ]) assert.deepEqual(parseV2Json(Buffer.from(text)), JSON.parse(text));
  });

  it('rejects what JSON.parse rejects', () => {
    for (const text of ['{"data":[1,,2]}', '{"data":[01]}', '{"data":[1.]}', '{"data":[-]}', '{"data":[1 2]}', '{"data":[1,2}', '{"data":[1e]}', '{"data":[1,2]', '{"data":[.5]}']) {
      assert.throws(() => JSON.parse(text), SyntaxError, text);
      assert.throws(() => parseV2Json(Buffer.from(text)), SyntaxError, text);
    }
  });

  it('cannot be tricked into resolving a forged placeholder', () => {
    const text = '{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[1]},{"name":"y","datatype":"FP32","shape":[1],"data":{"ferry-data-0000000000000000":0}}]}';
    const got = parseV2Json(Buffer.from(text)) as { inputs: { data: unknown }[] };
    assert.ok(got.inputs[0]!.data instanceof NumericData);
    assert.deepEqual(got.inputs[1]!.data, { 'ferry-data-0000000000000000': 0 });
  });
});
