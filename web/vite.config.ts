// The dashboard's build: web/ → dist/web/, served by Ferry itself at / (src/server/dashboard.ts).
// `npx vite web` runs a dev server that forwards the API to a Ferry on :8080.
import { defineConfig } from 'vite';

const ferry = process.env.FERRY_URL ?? 'http://127.0.0.1:8080';
const api = Object.fromEntries(['/v1', '/v2', '/api', '/metrics'].map((p) => [p, ferry]));

export default defineConfig({
  root: import.meta.dirname,
  // Preact's JSX, without a Babel plugin: esbuild/oxc does the transform
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: '../dist/web',
    emptyOutDir: true,
    // the size we report (issue 7: ≤ 300 KB gzipped JS for the first page)
    reportCompressedSize: true,
    chunkSizeWarningLimit: 300,
  },
  server: { proxy: api },
});
