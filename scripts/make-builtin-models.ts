// Writes the built-in models that ship in models/ by running their recipes. Training is
// deterministic for a seed, so running this again reproduces the same weights
// (test/training/builtin-models.test.ts checks that the shipped files are what the recipes give).
//   npx tsx scripts/make-builtin-models.ts
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RECIPES } from '../src/training/recipes.js';
import { runTraining } from '../src/training/run.js';

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'models');
for (const name of ['mnist-mlp', 'mnist-cnn']) {
  const result = await runTraining({ spec: RECIPES[name]!, intraOpThreads: 2 });
  writeFileSync(path.join(dir, `${name}.onnx`), result.onnx);
  console.log(`${name}: test accuracy ${result.metrics.testAccuracy}, ${result.onnx.length} bytes`);
}
