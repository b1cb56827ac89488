// `npm run bench -- <name>`: runs one benchmark by name (all when none is given).
import { benchDashboard } from './dashboard.js';
import { benchDashboardLoad } from './dashboard-load.js';
import { benchLlm } from './llm.js';
import { benchOptimize } from './optimize.js';
import { benchServe } from './serve.js';
import { benchServeWhileTraining } from './serve-while-training.js';
import { benchText } from './text.js';
import { benchTrain } from './train.js';
import { benchVae } from './vae.js';

const BENCHES: Record<string, () => Promise<void>> = { serve: benchServe, train: benchTrain, 'serve-train': benchServeWhileTraining, text: benchText, llm: benchLlm, vae: benchVae, optimize: benchOptimize, dashboard: benchDashboard, 'dashboard-load': benchDashboardLoad };
const names = process.argv.slice(2).filter((a) => !a.startsWith('-'));
for (const name of names.length > 0 ? names : Object.keys(BENCHES)) {
  const run = BENCHES[name];
  if (!run) {
    console.error(`unknown benchmark "${name}"; known: ${Object.keys(BENCHES).join(', ')}`);
    process.exit(2);
  }
  await run();
}
