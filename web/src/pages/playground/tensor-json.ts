// The tensor editor's JSON: a sample V2 request built from a signature, a readable rendering of
// requests and responses (long data arrays on one line and cut short), and parse errors that say
// where the problem is. Pure, so it is tested without a browser.
import { concreteShape, elementCount, type TensorSpec } from './kind';

/** V2 JSON tensors (KServe open inference protocol). */
export interface V2Tensor {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly number[];
  readonly data: readonly unknown[];
}

export interface V2Request {
  readonly inputs: readonly V2Tensor[];
}

function zero(dtype: string): unknown {
  if (dtype === 'BYTES') return '';
  if (dtype === 'BOOL') return false;
  return 0;
}

/** One example request: open dimensions as 1, every value the datatype's zero ("" for BYTES). */
export function sampleRequest(inputs: readonly TensorSpec[]): V2Request {
  return {
    inputs: inputs.map((i) => {
      const shape = concreteShape(i.shape);
      return { name: i.name, datatype: i.dtype, shape, data: new Array<unknown>(elementCount(shape)).fill(zero(i.dtype)) };
    }),
  };
}

/**
 * JSON with two-space indents, but arrays of plain values on one line; with `limit`, arrays longer
 * than that show their first `limit` values and how many more there are (for showing, not parsing).
 *
 *   formatJson({ shape: [1, 784] }) // '{\n  "shape": [1, 784]\n}'
 */
export function formatJson(value: unknown, limit = Infinity, indent = ''): string {
  if (Array.isArray(value)) {
    const plain = value.every((v) => v === null || typeof v !== 'object');
    const shown = value.length > limit ? value.slice(0, limit) : value;
    const more = value.length > shown.length ? `, … ${value.length - shown.length} more` : '';
    if (plain) return `[${shown.map((v) => JSON.stringify(v)).join(', ')}${more}]`;
    const inner = indent + '  ';
    return `[\n${shown.map((v) => inner + formatJson(v, limit, inner)).join(',\n')}${more ? `\n${inner}${more.slice(2)}` : ''}\n${indent}]`;
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    if (entries.length === 0) return '{}';
    const inner = indent + '  ';
    return `{\n${entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${formatJson(v, limit, inner)}`).join(',\n')}\n${indent}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export type Parsed = { readonly ok: true; readonly request: V2Request } | { readonly ok: false; readonly error: string };

/** Line and column (from 1) of a character offset. */
function where(text: string, offset: number): string {
  const before = text.slice(0, offset).split('\n');
  return `line ${before.length}, column ${before.at(-1)!.length + 1}`;
}

/** Parses the editor's text as a V2 request; an error names the problem and where it is. */
export function parseRequest(text: string): Parsed {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const message = (err as Error).message;
    const at = /at position (\d+)/.exec(message);
    // engines word this differently; keep the explanation, put the place in our own words
    const what = message.replace(/\s*in JSON at position \d+.*$/, '').replace(/\s*\(line \d+ column \d+\)$/, '');
    return { ok: false, error: `This is not valid JSON${at ? ` at ${where(text, Number(at[1]))}` : ''}: ${what}.` };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, error: 'The request must be a JSON object such as {"inputs": [{"name", "datatype", "shape", "data"}]}.' };
  }
  const inputs = (value as { inputs?: unknown }).inputs;
  if (!Array.isArray(inputs) || inputs.length === 0) return { ok: false, error: 'The request needs "inputs": a non-empty list of tensors, each {"name", "datatype", "shape", "data"}.' };
  for (const [i, t] of inputs.entries()) {
    const { name, datatype, shape, data } = (t ?? {}) as Record<string, unknown>;
    if (typeof name !== 'string' || typeof datatype !== 'string' || !Array.isArray(shape) || !Array.isArray(data)) {
      return { ok: false, error: `inputs[${i}] must have "name" and "datatype" (strings), "shape" and "data" (lists).` };
    }
  }
  return { ok: true, request: value as V2Request };
}
