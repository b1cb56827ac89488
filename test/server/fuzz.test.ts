// Property tests for the V2 inference surface: whatever bytes arrive, the decoder returns a
// well-formed request or throws INVALID_ARGUMENT, and the route answers with a 2xx result or a
// 4xx V2 error envelope, never a 5xx. Bodies are random JSON, mutated valid requests (wrong types,
// shapes, datatypes, nesting, huge numbers) and binary-tensor bodies with random header lengths.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { FerryError } from '../../src/core/errors.js';
import { decodeInferRequest, parseHeaderLength } from '../../src/server/kserve-v2/decode.js';
import { mlpModel, mlpParams, mlpReference } from '../fixtures/models.js';
import { pushModel, startServer, type TestServer } from '../helpers/server.js';

const MLP = mlpParams({ inputs: 4, hidden: 8, outputs: 3, seed: 5 });
const DTYPES = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES'];
/** Fixed seeds: a failure is reproducible from the printed seed and path, and CI runs the same cases. */
const SEED = 20_240_601;

// ---------------------------------------------------------------------------------------------
// Generators

/** Values that belong nowhere in particular: the wrong type for almost every field. */
const weird: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null), fc.boolean(), fc.string({ maxLength: 8 }), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(1e300, -1e300, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 64, -0, 0.5, -1, 1e12, 'FP32', 'input', '__proto__', ''),
  fc.array(fc.integer({ min: -3, max: 70 }), { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.integer(), { maxKeys: 2 }),
);

/** Numbers as they may appear in data: mostly ordinary, sometimes at or past every type's edge. */
const element: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 12, arbitrary: fc.float({ noNaN: true, noDefaultInfinity: true, min: -10, max: 10 }) },
  { weight: 2, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 2, arbitrary: fc.integer() },
  { weight: 2, arbitrary: fc.constantFrom(0, -0, 1e39, -1e39, 3.4028235e38, 2 ** 53, -(2 ** 53), 2 ** 63, 2 ** 64, 5e-324, true, false, 1, 0) },
  { weight: 1, arbitrary: weird },
);

const dim: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 5 }) },
  { weight: 1, arbitrary: fc.constantFrom(-1, 4, 64, 65, 1e12, 2 ** 31, 2 ** 31 - 1, 1e300, 1.5, -0) },
  { weight: 1, arbitrary: weird },
);

interface Body { body: Buffer; headerLength?: string }

const json = (v: unknown): Body => ({ body: Buffer.from(JSON.stringify(v) ?? 'null', 'utf8') });

/** `arb` now and then; usually absent (undefined), so most requests stay valid in every other respect. */
const sometimes = <T>(arb: fc.Arbitrary<T>, weight = 1): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight, arbitrary: arb });
/** The usual value, or now and then something else. */
const mostly = <T>(usual: T, other: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> =>
  fc.oneof({ weight: 8, arbitrary: fc.constant(usual) }, { weight: 1, arbitrary: other });

const validFloat = fc.float({ noNaN: true, noDefaultInfinity: true, min: -10, max: 10 });

/** A request that is valid for the MLP ("input" FP32 [rows, 4]) except for what the knobs change. */
const nearlyValid = fc.record({
  rows: fc.integer({ min: 0, max: 4 }),
  cols: mostly(4, fc.integer({ min: 0, max: 6 })) as fc.Arbitrary<number>,
  extra: mostly(0, fc.integer({ min: -2, max: 2 })) as fc.Arbitrary<number>,
  name: mostly('input', fc.oneof(fc.string({ maxLength: 6 }), weird)),
  datatype: mostly('FP32', fc.oneof(fc.constantFrom(...DTYPES), weird)),
  shape: sometimes(fc.array(dim, { maxLength: 5 })),
  nest: fc.constantFrom('flat', 'flat', 'rows', 'deep'),
  oddElements: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  id: sometimes(fc.oneof({ weight: 3, arbitrary: fc.string({ maxLength: 12 }) }, { weight: 1, arbitrary: weird })),
  parameters: sometimes(fc.record({
    priority: sometimes(fc.oneof({ weight: 3, arbitrary: fc.integer({ min: -2, max: 12 }) }, { weight: 1, arbitrary: weird })),
    // Valid timeouts are kept at 10 s and more: a 1 µs timeout may really expire (a 504 by design).
    timeout: sometimes(fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 10_000_000, max: 2 ** 40 }) }, { weight: 1, arbitrary: fc.constantFrom(0, -1, 1.5, 1e300, '100', null) })),
    binary_data_output: sometimes(fc.oneof(fc.boolean(), weird)),
  }), 2),
  outputs: sometimes(fc.array(fc.record({
    name: mostly('logits', fc.oneof(fc.string({ maxLength: 6 }), weird)),
    parameters: sometimes(fc.record({ binary_data: sometimes(fc.oneof({ weight: 3, arbitrary: fc.boolean() }, { weight: 1, arbitrary: weird }), 3) })),
  }), { maxLength: 2 })),
  extraInputs: sometimes(fc.array(fc.dictionary(fc.constantFrom('name', 'shape', 'datatype', 'data', 'parameters'), weird, { maxKeys: 5 }), { minLength: 1, maxLength: 2 })),
}).chain((k) => {
  const n = Math.max(0, k.rows * k.cols + k.extra);
  return fc.array(k.oddElements ? element : validFloat, { minLength: n, maxLength: n }).map((values) => {
    let data: unknown = values;
    if (k.nest === 'rows' && k.cols > 0) data = Array.from({ length: Math.ceil(values.length / k.cols) }, (_, r) => values.slice(r * k.cols, r * k.cols + k.cols));
    if (k.nest === 'deep') data = values.map((v) => [[v]]);
    // JSON.stringify drops keys whose value is undefined, which is how "absent" reaches the wire.
    return {
      id: k.id,
      parameters: k.parameters,
      inputs: [{ name: k.name, shape: k.shape ?? [k.rows, k.cols], datatype: k.datatype, data }, ...(k.extraInputs ?? [])],
      outputs: k.outputs,
    };
  });
});

/** Sets or deletes a value at a path in a JSON tree, creating objects on the way when it can. */
function mutate(root: unknown, path: readonly (string | number)[], value: unknown, remove: boolean): unknown {
  if (path.length === 0) return value;
  if (root === null || typeof root !== 'object') return root;
  const [head, ...rest] = path;
  const node = root as Record<string | number, unknown>;
  if (rest.length === 0) {
    if (remove) delete node[head!];
    else node[head!] = value;
  } else {
    if (node[head!] === undefined || node[head!] === null) node[head!] = typeof rest[0] === 'number' ? [] : {};
    mutate(node[head!], rest, value, remove);
  }
  return root;
}

const PATHS: (string | number)[][] = [
  [], ['inputs'], ['inputs', 0], ['inputs', 1], ['inputs', 0, 'name'], ['inputs', 0, 'shape'], ['inputs', 0, 'shape', 0],
  ['inputs', 0, 'shape', 1], ['inputs', 0, 'datatype'], ['inputs', 0, 'data'], ['inputs', 0, 'data', 0], ['inputs', 0, 'data', 3],
  ['inputs', 0, 'parameters'], ['inputs', 0, 'parameters', 'binary_data_size'], ['parameters'], ['parameters', 'priority'],
  ['parameters', 'timeout'], ['parameters', 'binary_data_output'], ['outputs'], ['outputs', 0], ['outputs', 0, 'name'],
  ['outputs', 0, 'parameters'], ['outputs', 0, 'parameters', 'binary_data'], ['id'],
];

const mutated: fc.Arbitrary<Body> = fc.tuple(
  nearlyValid,
  fc.array(fc.record({ path: fc.constantFrom(...PATHS), value: fc.oneof(weird, fc.jsonValue({ maxDepth: 3 })), remove: fc.boolean() }), { maxLength: 3 }),
).map(([req, edits]) => json(edits.reduce<unknown>((r, e) => mutate(r, e.path, e.value, e.remove), req)));

/** Arrays nested far deeper than any tensor, in a field that a message may quote. */
const deepNesting: fc.Arbitrary<Body> = fc.record({
  depth: fc.integer({ min: 1, max: 20_000 }),
  field: fc.constantFrom('shape', 'data', 'datatype', 'name', 'priority'),
}).map(({ depth, field }) => {
  const deep = '['.repeat(depth) + ']'.repeat(depth);
  const input: Record<string, string> = { name: '"input"', shape: '[1,4]', datatype: '"FP32"', data: '[1,2,3,4]' };
  if (field === 'priority') return { body: Buffer.from(`{"parameters":{"priority":${deep}},"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}`) };
  input[field] = field === 'data' ? `[{"x":${deep}},2,3,4]` : deep;
  return { body: Buffer.from(`{"inputs":[{${Object.entries(input).map(([k, v]) => `"${k}":${v}`).join(',')}}]}`) };
});

/** Binary tensor bodies: a JSON header, binary data that may or may not fit it, and a header length that may lie. */
const binary: fc.Arbitrary<Body> = fc.record({
  rows: fc.integer({ min: 0, max: 3 }),
  datatype: fc.oneof({ weight: 6, arbitrary: fc.constant('FP32') }, fc.constantFrom(...DTYPES)),
  values: fc.array(fc.float({ noNaN: true, noDefaultInfinity: true, min: -5, max: 5 }), { maxLength: 12 }),
  junk: fc.uint8Array({ maxLength: 40 }),
  sizeMode: fc.constantFrom('exact', 'exact', 'junk', 'random', 'missing', 'weird'),
  size: fc.integer({ min: -8, max: 100 }),
  sizeWeird: weird,
  lengthMode: fc.constantFrom('exact', 'exact', 'exact', 'short', 'long', 'absent', 'text'),
  delta: fc.integer({ min: 1, max: 30 }),
  text: fc.constantFrom('', ' ', 'abc', '-1', '1e3', '0x10', '12, 12', '99999999999999999999', '3.5'),
  tail: fc.uint8Array({ maxLength: 8 }),
  binaryOut: fc.boolean(),
}).map((k) => {
  const exact = Buffer.alloc(k.rows * 4 * 4);
  for (let i = 0; i < k.rows * 4; i++) exact.writeFloatLE(k.values[i % Math.max(1, k.values.length)] ?? 0, i * 4);
  const data = k.sizeMode === 'junk' ? Buffer.from(k.junk) : exact;
  const size = k.sizeMode === 'random' ? k.size : k.sizeMode === 'weird' ? k.sizeWeird : data.length;
  const params = k.sizeMode === 'missing' ? {} : { binary_data_size: size };
  const header = Buffer.from(JSON.stringify({
    inputs: [{ name: 'input', shape: [k.rows, 4], datatype: k.datatype, parameters: params }],
    ...(k.binaryOut ? { parameters: { binary_data_output: true } } : {}),
  }), 'utf8');
  const body = Buffer.concat([header, data, k.sizeMode === 'random' ? Buffer.from(k.tail) : Buffer.alloc(0)]);
  const headerLength = {
    exact: String(header.length), short: String(Math.max(0, header.length - k.delta)), long: String(header.length + k.delta),
    absent: undefined, text: k.text,
  }[k.lengthMode];
  return { body, headerLength };
});

const randomJson: fc.Arbitrary<Body> = fc.jsonValue({ maxDepth: 4 }).map(json);
const randomBytes: fc.Arbitrary<Body> = fc.record({ bytes: fc.uint8Array({ maxLength: 64 }), hl: fc.option(fc.string({ maxLength: 4 }), { nil: undefined }) })
  .map(({ bytes, hl }) => ({ body: Buffer.from(bytes), headerLength: hl }));

const anyBody: fc.Arbitrary<Body> = fc.oneof(
  { weight: 2, arbitrary: randomJson },
  { weight: 1, arbitrary: randomBytes },
  { weight: 5, arbitrary: nearlyValid.map(json) },
  { weight: 5, arbitrary: mutated },
  { weight: 4, arbitrary: binary },
  { weight: 1, arbitrary: deepNesting },
);

/** decodeInferRequest takes the header as a number; route tests send the text the client sent. */
function headerNumber(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  return /^[0-9]+$/.test(text) ? Number(text) : Number.parseFloat(text);
}

// ---------------------------------------------------------------------------------------------

describe('decodeInferRequest under fuzzing', () => {
  it('returns a well-formed request or throws INVALID_ARGUMENT, for 10,000 bodies', () => {
    let decoded = 0;
    fc.assert(fc.property(anyBody, ({ body, headerLength }) => {
      let req;
      try {
        req = decodeInferRequest(body, headerNumber(headerLength));
      } catch (err) {
        assert.ok(err instanceof FerryError, `threw ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`);
        assert.equal(err.code, 'INVALID_ARGUMENT');
        assert.ok(err.message.length > 0 && err.message.length < 1000, `message of ${err.message.length} characters`);
        return;
      }
      decoded++;
      // What comes out is consistent: every tensor holds exactly as many elements as its shape says.
      for (const t of Object.values(req.inputs)) {
        const n = t.shape.reduce((a, b) => a * b, 1);
        assert.equal(t.data.length, n, `a ${t.dtype} tensor of shape [${t.shape}] holds ${t.data.length} elements`);
      }
    }), { numRuns: 10_000, seed: SEED });
    assert.ok(decoded > 1000, `only ${decoded} of 10,000 bodies decoded: the generators should reach past the first checks`);
  });

  it('parseHeaderLength returns a non-negative integer or throws INVALID_ARGUMENT', () => {
    fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 20 }), fc.nat().map(String), fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 })), (raw) => {
      try {
        const n = parseHeaderLength(raw);
        assert.ok(Number.isSafeInteger(n) && n! >= 0, `got ${n} for ${JSON.stringify(raw)}`);
      } catch (err) {
        assert.ok(err instanceof FerryError && err.code === 'INVALID_ARGUMENT', String(err));
      }
    }), { numRuns: 2000, seed: SEED });
  });
});

describe('POST /v2/models/mlp/infer under fuzzing', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer();
    const res = await pushModel(s.url, 'mlp', mlpModel(MLP));
    assert.equal(res.status, 201, await res.text());
  });
  after(() => s.close());

  const contentType = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom('application/json', 'application/octet-stream', undefined) },
    { weight: 1, arbitrary: fc.constantFrom('text/plain', 'application/json; charset=utf-8', 'multipart/form-data', '*/*', 'application/x-www-form-urlencoded', ';;', 'a/b; c=', '') },
  );

  /** Checks one response: never 5xx; a 2xx is a V2 response for the MLP, anything else the V2 envelope. */
  function checkResponse(status: number, headers: Record<string, string | string[] | number | undefined>, raw: Buffer): void {
    assert.ok(status < 500, `status ${status}: ${raw.toString('utf8').slice(0, 300)}`);
    const hl = headers['inference-header-content-length'];
    const jsonPart = status === 200 && hl !== undefined ? raw.subarray(0, Number(hl)) : raw;
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(jsonPart.toString('utf8')) as Record<string, unknown>;
    } catch {
      assert.fail(`status ${status} with a body that is not JSON: ${raw.toString('utf8').slice(0, 200)}`);
    }
    if (status === 200) {
      assert.equal(body.model_name, 'mlp');
      assert.ok(Array.isArray(body.outputs));
    } else {
      assert.equal(typeof body.error, 'string', `status ${status} without a string "error": ${jsonPart.toString('utf8').slice(0, 200)}`);
    }
  }

  it('never answers 5xx and always answers JSON, for 10,000 bodies (in-process inject)', async () => {
    const statuses = new Map<number, number>();
    await fc.assert(fc.asyncProperty(anyBody, contentType, async ({ body, headerLength }, type) => {
      const headers: Record<string, string> = {};
      if (type !== undefined) headers['content-type'] = type;
      if (headerLength !== undefined) headers['inference-header-content-length'] = headerLength;
      const res = await s.ferry.app.inject({ method: 'POST', url: '/v2/models/mlp/infer', payload: body, headers });
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      checkResponse(res.statusCode, res.headers, res.rawPayload);
    }), { numRuns: 10_000, seed: SEED });
    assert.ok((statuses.get(200) ?? 0) > 500, `too few successes to mean anything: ${JSON.stringify([...statuses])}`);
    assert.ok((statuses.get(400) ?? 0) > 1000, `too few rejections: ${JSON.stringify([...statuses])}`);
  });

  it('survives 300 fuzzed requests and some malformed HTTP over real loopback, then is still ready and correct', async () => {
    await fc.assert(fc.asyncProperty(anyBody, contentType, async ({ body, headerLength }, type) => {
      const headers: Record<string, string> = {};
      if (type !== undefined) headers['content-type'] = type;
      // fetch refuses header values it cannot send; those are for inject to cover.
      if (headerLength !== undefined && /^[\x20-\x7e]*$/.test(headerLength)) headers['inference-header-content-length'] = headerLength;
      const res = await fetch(`${s.url}/v2/models/mlp/infer`, { method: 'POST', body: new Uint8Array(body), headers });
      checkResponse(res.status, Object.fromEntries(res.headers), Buffer.from(await res.arrayBuffer()));
    }), { numRuns: 300, seed: SEED });

    // Odd bytes straight onto a socket: a body cut short, a lying Content-Length, a broken chunk, garbage.
    const port = Number(new URL(s.url).port);
    const raw = [
      'POST /v2/models/mlp/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{"inputs": [',
      'POST /v2/models/mlp/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n',
      'POST /v2/models/mlp/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nInference-Header-Content-Length: 9\r\n\r\n{}',
      'GARBAGE\r\n\r\n',
      '\x00\x01\x02\xff\xfe',
    ];
    for (const text of raw) {
      await new Promise<void>((resolve) => {
        const sock = net.connect(port, '127.0.0.1', () => {
          sock.write(Buffer.from(text, 'latin1'));
          // Half-close: the server sees the end of a request that never completes.
          sock.end();
        });
        sock.on('data', () => {});
        sock.on('error', () => resolve());
        sock.on('close', () => resolve());
      });
    }

    const ready = await fetch(`${s.url}/v2/health/ready`);
    assert.equal(ready.status, 200);
    const x = Float32Array.from([0.25, -1, 2, 0.5]);
    const res = await fetch(`${s.url}/v2/models/mlp/infer`, { method: 'POST', body: JSON.stringify({ inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: Array.from(x) }] }) });
    assert.equal(res.status, 200);
    const out = (await res.json()) as { outputs: { data: number[] }[] };
    const want = mlpReference(MLP, x, 1);
    out.outputs[0]!.data.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 1e-4, `logit ${i}: ${v} vs ${want[i]}`));
  });
});
