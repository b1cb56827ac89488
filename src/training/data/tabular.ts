// Tables of numbers with a label: JSONL (one object per line) and CSV (a header row). Both end as a
// Pool of float features plus targets from encodeLabels, then the shared seeded split. Every error
// names the file, the line and the field, because a bad row in a 50,000-line file is otherwise
// found by bisection.
import path from 'node:path';
import { invalid } from '../../core/errors.js';
import type { Dataset, SplitOptions } from './dataset.js';
import { parseCsv } from './csv.js';
import { encodeLabels, preview, type RawLabel, type Task } from './labels.js';
import { readText } from './read.js';
import { splitPool } from './split.js';

export interface JsonlSource extends SplitOptions {
  readonly path: string;
  /** one field holding an array of numbers, or several fields each holding a number */
  readonly features: string | readonly string[];
  readonly label: string;
  readonly task?: Task;
}

export interface CsvSource extends SplitOptions {
  readonly path: string;
  /** default: every column but the label */
  readonly features?: readonly string[];
  readonly label: string;
  readonly task?: Task;
}

/**
 *   await loadJsonl({ path: '/data/iris.jsonl', features: ['sl', 'sw', 'pl', 'pw'], label: 'species' })
 *   await loadJsonl({ path: '/data/points.jsonl', features: 'xy', label: 'z' })  // {"xy": [1, 2], "z": 0.5}
 */
export async function loadJsonl(src: JsonlSource): Promise<Dataset> {
  const file = src.path;
  const many = typeof src.features !== 'string';
  const fields = checkFields(src.features, src.label);
  const rows: number[][] = [];
  const labels: RawLabel[] = [];
  const lines: number[] = [];
  const text = await readText(file, 'JSONL file');
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    let obj: unknown;
    try {
      obj = JSON.parse(raw);
    } catch (e) {
      throw invalid(`${file} line ${line} is not valid JSON (${(e as Error).message}); send one JSON object per line`);
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
      throw invalid(`${file} line ${line} is ${preview(obj)}, not a JSON object; send one object per line, e.g. {"x": [1, 2], "${src.label}": "a"}`);
    }
    const record = obj as Record<string, unknown>;
    const get = (field: string) => {
      if (record[field] === undefined) throw invalid(`${file} line ${line} has no field "${field}"; every line needs the feature fields ${fields.map((f) => `"${f}"`).join(', ')}`);
      return record[field];
    };
    let row: number[];
    if (many) {
      row = fields.map((f) => {
        const v = get(f);
        if (typeof v !== 'number') throw invalid(`${file} line ${line} field "${f}" is ${preview(v)}, not a number; send numeric features`);
        return v;
      });
    } else {
      const v = get(fields[0]!);
      if (!Array.isArray(v) || v.length === 0 || v.some((t) => typeof t !== 'number')) {
        throw invalid(`${file} line ${line} field "${fields[0]}" is ${preview(v)}; send a non-empty array of numbers`);
      }
      row = v as number[];
      if (rows.length > 0 && row.length !== rows[0]!.length) {
        throw invalid(`${file} line ${line} field "${fields[0]}" has ${row.length} numbers but line ${lines[0]} has ${rows[0]!.length}; every example needs the same number of features`);
      }
    }
    const label = record[src.label];
    if (label === undefined || label === null) {
      throw invalid(`${file} line ${line} is unlabeled: it has no "${src.label}" field; send a label on every line, or remove the line`);
    }
    if (typeof label !== 'string' && typeof label !== 'number' && !Array.isArray(label)) {
      throw invalid(`${file} line ${line} field "${src.label}" is ${preview(label)}; send a string, a number or a list of numbers as the label`);
    }
    rows.push(row);
    labels.push(label as RawLabel);
    lines.push(line);
  });
  if (rows.length === 0) throw invalid(`${file} has no rows; send a JSONL file with one JSON object per line, at least 2 of them`);
  return finish(src, 'jsonl', rows, labels, (i) => `${file} line ${lines[i]}`);
}

/**
 *   await loadCsv({ path: '/data/iris.csv', label: 'species' })  // features: every other column
 */
export async function loadCsv(src: CsvSource): Promise<Dataset> {
  const file = src.path;
  const [head, ...records] = parseCsv(await readText(file, 'CSV file'), file);
  if (!head) throw invalid(`${file} is empty; send a CSV file with a header row and at least 2 rows`);
  const header = head.fields.map((h) => h.trim());
  const dup = header.find((h, i) => header.indexOf(h) !== i);
  if (dup !== undefined) throw invalid(`${file} has two columns named "${dup}"; send a header with distinct names`);
  const column = (name: string) => {
    const c = header.indexOf(name);
    if (c < 0) throw invalid(`${file} has no column "${name}"; its columns are ${header.map((h) => `"${h}"`).join(', ')}`);
    return c;
  };
  const labelCol = column(src.label);
  const names = src.features === undefined ? header.filter((h) => h !== src.label) : checkFields(src.features, src.label);
  if (names.length === 0) throw invalid(`${file} has no column besides the label "${src.label}"; send at least one feature column`);
  const cols = names.map(column);
  if (records.length === 0) throw invalid(`${file} has a header but no rows; send at least 2 rows`);
  const rows: number[][] = [];
  const labels: RawLabel[] = [];
  for (const { line, fields } of records) {
    if (fields.length !== header.length) {
      throw invalid(`${file} line ${line} has ${fields.length} fields but the header has ${header.length}; quote fields that contain commas ("a,b")`);
    }
    rows.push(cols.map((c, k) => {
      const cell = fields[c]!.trim();
      const v = Number(cell);
      if (cell === '' || !Number.isFinite(v)) {
        throw invalid(`${file} line ${line}, column "${names[k]}": ${JSON.stringify(fields[c])} is not a number; send numeric features, or list only numeric columns in "features"`);
      }
      return v;
    }));
    const cell = fields[labelCol]!.trim();
    if (cell === '') throw invalid(`${file} line ${line} is unlabeled: column "${src.label}" is empty; send a label on every row, or remove the row`);
    // A label that reads as a number is one, so a 0/1 column is classes and a price column regression.
    const n = Number(cell);
    labels.push(Number.isFinite(n) ? n : cell);
  }
  return finish(src, 'csv', rows, labels, (i) => `${file} line ${records[i]!.line}`);
}

function checkFields(features: unknown, label: unknown): string[] {
  if (typeof label !== 'string' || label === '') throw invalid(`label must name the label field, got ${preview(label)}; send e.g. "label": "species"`);
  const list = typeof features === 'string' ? [features] : features;
  if (!Array.isArray(list) || list.length === 0 || list.some((f) => typeof f !== 'string' || f === '')) {
    throw invalid(`features must be a field name or a non-empty list of field names, got ${preview(features)}; send e.g. "features": ["x1", "x2"]`);
  }
  if (list.includes(label)) throw invalid(`the label "${label}" is also listed in features; a model given its own label learns nothing, so leave it out of features`);
  return list as string[];
}

function finish(src: JsonlSource | CsvSource, type: 'jsonl' | 'csv', rows: number[][], labels: RawLabel[], where: (i: number) => string): Dataset {
  const k = rows[0]!.length;
  const x = new Float32Array(rows.length * k);
  rows.forEach((r, i) => x.set(r, i * k));
  const targets = encodeLabels(labels, { field: src.label, task: src.task, where });
  return splitPool({ n: rows.length, x, featureShape: [k], ...targets }, { name: path.basename(src.path), type, source: src.path }, src);
}
