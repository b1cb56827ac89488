// The new-job form keeps the spec as the text in its textarea (what a user pastes or edits); the
// quick fields read and write single fields of that text. Pure functions, so "what did the user
// type" stays one string and nothing is lost between the two views.

export type Json = Record<string, unknown>;

export type Parsed = { readonly spec: Json; readonly error?: undefined } | { readonly spec?: undefined; readonly error: string };

export function parseSpecText(text: string): Parsed {
  if (text.trim() === '') return { error: 'The spec is empty: pick a recipe or paste a spec.' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { error: `The spec is not valid JSON: ${(err as Error).message}.` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { error: 'The spec must be a JSON object, {"name": …, "dataset": …, …}.' };
  return { spec: value as Json };
}

export const specText = (spec: object): string => JSON.stringify(spec, null, 2);

/** A field by its path, e.g. ['dataset', 'train']. */
export function getField(spec: Json, path: readonly string[]): unknown {
  let v: unknown = spec;
  for (const k of path) v = typeof v === 'object' && v !== null ? (v as Json)[k] : undefined;
  return v;
}

/** The spec's text with one field changed (made if missing; parents must be objects). */
export function withField(spec: Json, path: readonly string[], value: unknown): string {
  const next = structuredClone(spec);
  let o: Json = next;
  for (const k of path.slice(0, -1)) {
    const child = o[k];
    if (typeof child !== 'object' || child === null || Array.isArray(child)) o[k] = {};
    o = o[k] as Json;
  }
  o[path.at(-1)!] = value;
  return specText(next);
}

/** Where a dataset keeps its train and test sizes, when it has them (MNIST: train/test; the
 *  language-model corpus: trainWindows/testWindows). */
export function sizeFields(spec: Json): { train?: readonly string[]; test?: readonly string[] } {
  const ds = getField(spec, ['dataset']);
  if (typeof ds !== 'object' || ds === null) return {};
  const has = (k: string) => typeof (ds as Json)[k] === 'number';
  const train = ['train', 'trainWindows'].find(has);
  const test = ['test', 'testWindows'].find(has);
  return { ...(train ? { train: ['dataset', train] } : {}), ...(test ? { test: ['dataset', test] } : {}) };
}
