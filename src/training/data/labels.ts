// Turns the label values read from a JSONL or CSV file into targets. Without an explicit task,
// labels that are all strings or integers are classes and anything else is a regression target:
// a column of 0/1 or of species names is almost always a class, a column of 3.7 never is.
import { invalid } from '../../core/errors.js';

export type RawLabel = string | number | readonly number[];
export type Task = 'classification' | 'regression';

export interface Targets {
  readonly y: Int32Array | Float32Array;
  readonly classes?: readonly string[];
  readonly targetSize?: number;
}

export interface LabelOptions {
  /** the label field or column, for messages */
  readonly field: string;
  readonly task?: Task;
  /** where label i came from, e.g. 'data.jsonl line 7' */
  readonly where: (i: number) => string;
}

export function encodeLabels(labels: readonly RawLabel[], opts: LabelOptions): Targets {
  if (opts.task !== undefined && opts.task !== 'classification' && opts.task !== 'regression') {
    throw invalid(`task must be "classification" or "regression", got ${JSON.stringify(opts.task)}; leave it out to decide from the labels`);
  }
  const isClass = (v: RawLabel) => typeof v === 'string' || Number.isInteger(v);
  const task = opts.task ?? (labels.every(isClass) ? 'classification' : 'regression');
  return task === 'classification' ? classify(labels, opts) : regress(labels, opts);
}

/** Class names are the distinct labels, numbers in numeric order first, then strings; y is the index. */
function classify(labels: readonly RawLabel[], opts: LabelOptions): Targets {
  const numeric = new Map<string, number>();
  const strings = new Set<string>();
  labels.forEach((v, i) => {
    if (typeof v === 'number') numeric.set(String(v), v);
    else if (typeof v === 'string') strings.add(v);
    else throw invalid(`${opts.where(i)}: label "${opts.field}" is a list, which cannot be a class; send one string or integer per example, or "task": "regression"`);
  });
  const classes = [
    ...[...numeric].sort((a, b) => a[1] - b[1]).map(([name]) => name),
    ...[...strings].filter((s) => !numeric.has(s)).sort(),
  ];
  const index = new Map(classes.map((c, i) => [c, i]));
  const y = Int32Array.from(labels, (v) => index.get(String(v))!);
  return { y, classes };
}

function regress(labels: readonly RawLabel[], opts: LabelOptions): Targets {
  const size = (v: RawLabel) => (Array.isArray(v) ? v.length : 1);
  const targetSize = labels.length > 0 ? size(labels[0]!) : 1;
  const y = new Float32Array(labels.length * targetSize);
  labels.forEach((v, i) => {
    const values = typeof v === 'number' ? [v] : Array.isArray(v) ? (v as readonly unknown[]) : [v];
    const bad = values.find((t) => typeof t !== 'number' || !Number.isFinite(t));
    if (bad !== undefined || values.length === 0) {
      throw invalid(`${opts.where(i)}: label "${opts.field}" is ${preview(v)}, not a number; regression targets are numbers (or lists of numbers); send numbers, or "task": "classification"`);
    }
    if (values.length !== targetSize) {
      throw invalid(`${opts.where(i)}: label "${opts.field}" has ${values.length} values but ${opts.where(0)} has ${targetSize}; send targets of one length`);
    }
    y.set(values as number[], i * targetSize);
  });
  return { y, targetSize };
}

/** A value as a short JSON snippet for an error message. */
export function preview(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}
