#!/usr/bin/env node
// Runs the compiled CLI; `npm ci` (prepare) and `npm start` build it.
import { existsSync } from 'node:fs';

if (!existsSync(new URL('../dist/cli/main.js', import.meta.url))) {
  process.stderr.write('ferry: dist/ is missing; run `npm run build` first\n');
  process.exit(1);
}
await import('../dist/cli/main.js');
