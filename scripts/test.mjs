// Runs the whole suite: type-check, build (the CLI tests run the compiled bin; the browser tests the
// built dashboard), then every
// test/**/*.test.ts with node's test runner. Ends with the line "N passed, N failed".
// Usage: npm test [-- path/to/file.test.ts ...]
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const run = (cmd, args) => spawnSync(cmd, args, { cwd: root, stdio: 'inherit' }).status;

function find(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? find(p) : e.name.endsWith('.test.ts') ? [p] : [];
  });
}

const files = process.argv.slice(2).length > 0 ? process.argv.slice(2) : find(path.join(root, 'test')).sort();
if (process.argv.length <= 2) {
  if (run('npx', ['tsc', '-p', 'tsconfig.check.json']) !== 0 || run('npx', ['tsc', '-p', 'web/tsconfig.json']) !== 0) {
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
}
// the browser tests load the dashboard the server serves from dist/web
if (run('npx', ['tsc', '-p', 'tsconfig.json']) !== 0 || run('npx', ['vite', 'build', 'web', '--logLevel', 'warn']) !== 0) {
  console.log('0 passed, 1 failed');
  process.exit(1);
}

const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...files], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
let tail = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  tail = (tail + chunk.toString()).slice(-4000);
});
child.on('close', (code) => {
  const count = (name) => Number(tail.match(new RegExp(`ℹ ${name} (\\d+)`))?.[1] ?? 0);
  const passed = count('pass'), failed = count('fail') + count('cancelled');
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(code === 0 && failed === 0 && passed > 0 ? 0 : 1);
});
