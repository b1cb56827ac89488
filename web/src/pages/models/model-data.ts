// What the admin API says about models and versions (src/server/admin/routes.ts), and the pure
// helpers that turn its free-form metadata into what the page shows: lineage, metrics, sizes.

export interface ModelSummary {
  readonly name: string;
  readonly createdAt: string;
  readonly versions: readonly number[];
  readonly latestVersion: number;
  readonly aliases: Readonly<Record<string, number>>;
}

export interface TensorSpec {
  readonly name: string;
  readonly dtype: string;
  /** -1: a dimension the model leaves open */
  readonly shape: readonly number[];
}

export interface VersionView {
  readonly model: string;
  readonly version: number;
  readonly format: 'onnx' | 'gguf';
  readonly sizeBytes: number;
  readonly sha256: string;
  readonly createdAt: string;
  readonly signature: { readonly inputs: readonly TensorSpec[]; readonly outputs: readonly TensorSpec[] };
  readonly config: Readonly<Record<string, unknown>>;
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly loaded: boolean;
}

/** GET /api/models/:name: the summary with full version records in place of the numbers. */
export type ModelWithVersions = Omit<ModelSummary, 'versions'> & { readonly versions: readonly VersionView[] };

/** Unversioned requests go to this alias when the model has it, else to the highest version
 *  (DEFAULT_ALIAS in src/registry/registry.ts). */
export const DEFAULT_ALIAS = 'prod';

/** Same rule as the server's checkAliasName, so a typo is caught before the dialog opens. */
export const ALIAS_PATTERN = '[a-z][a-z0-9_\\-]{0,63}';

export const servedVersion = (m: Pick<ModelSummary, 'aliases' | 'latestVersion'>): number => m.aliases[DEFAULT_ALIAS] ?? m.latestVersion;

/** The aliases that point at `version`, sorted. */
export const aliasesOf = (m: Pick<ModelSummary, 'aliases'>, version: number): string[] =>
  Object.entries(m.aliases).filter(([, v]) => v === version).map(([a]) => a).sort();

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** "2024-05-01 14:03" in the viewer's time zone: short enough for a table cell. */
export function formatDate(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

export const formatShape = (shape: readonly number[]): string => `[${shape.map((d) => (d < 0 ? '?' : String(d))).join(', ')}]`;

export interface Lineage {
  readonly model: string;
  readonly version: number;
  readonly transformation?: string;
}

/** metadata.lineage = {parent: {model, version}, transformation} (training's fine-tune, optimize). */
export function lineageOf(metadata: Readonly<Record<string, unknown>>): Lineage | undefined {
  const l = metadata['lineage'];
  if (!isObj(l) || !isObj(l['parent'])) return undefined;
  const { model, version } = l['parent'];
  if (typeof model !== 'string' || typeof version !== 'number') return undefined;
  return { model, version, ...(typeof l['transformation'] === 'string' ? { transformation: l['transformation'] } : {}) };
}

export interface Metric {
  readonly label: string;
  readonly value: number;
}

const EPOCH_METRICS: readonly (readonly [string, string])[] = [
  ['testAccuracy', 'test accuracy'],
  ['testF1', 'test F1'],
  ['testLoss', 'test loss'],
  ['trainAccuracy', 'train accuracy'],
  ['trainLoss', 'train loss'],
];

/** The numbers a version was judged by: a `metrics` object in its metadata, else the last epoch of
 *  its training record (metadata.training.epochs, src/training/record.ts). Most telling first. */
export function metricsOf(metadata: Readonly<Record<string, unknown>>): Metric[] {
  const own = metadata['metrics'];
  if (isObj(own)) return Object.entries(own).filter((e): e is [string, number] => typeof e[1] === 'number').map(([label, value]) => ({ label, value }));
  const training = metadata['training'];
  const epochs = isObj(training) ? training['epochs'] : undefined;
  const last = Array.isArray(epochs) ? (epochs.at(-1) as unknown) : undefined;
  if (!isObj(last)) return [];
  return EPOCH_METRICS.filter(([k]) => typeof last[k] === 'number').map(([k, label]) => ({ label, value: last[k] as number }));
}

export const formatMetric = (v: number): string => (Number.isInteger(v) ? String(v) : Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(3));

/** What a training record adds besides metrics: epochs run, dataset, wall time. */
export function trainingFacts(metadata: Readonly<Record<string, unknown>>): [string, string][] {
  const t = metadata['training'];
  if (!isObj(t)) return [];
  const facts: [string, string][] = [];
  if (Array.isArray(t['epochs'])) facts.push(['epochs', String(t['epochs'].length)]);
  const ds = t['dataset'];
  if (isObj(ds) && typeof ds['source'] === 'string') {
    const sizes = typeof ds['trainSize'] === 'number' && typeof ds['testSize'] === 'number' ? ` (${ds['trainSize']} train / ${ds['testSize']} test)` : '';
    facts.push(['dataset', `${ds['source']}${sizes}`]);
  }
  if (typeof t['seed'] === 'number') facts.push(['seed', String(t['seed'])]);
  if (typeof t['wallSeconds'] === 'number') facts.push(['training time', `${t['wallSeconds'].toFixed(1)} s`]);
  return facts;
}

/** Metadata shown as plain facts: strings, numbers and booleans (records get their own sections). */
export function plainFacts(metadata: Readonly<Record<string, unknown>>): [string, string][] {
  return Object.entries(metadata)
    .filter(([, v]) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')
    .map(([k, v]) => [k, String(v)]);
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
