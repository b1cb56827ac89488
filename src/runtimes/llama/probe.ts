// Test-loads a GGUF file in a child process before it is registered: llama.cpp can abort the whole
// process on a malformed file instead of throwing, and an upload must never take the server down.
// Ferry's own header checks (src/llm/gguf/) run first; this catches what they cannot know.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { FerryError } from '../../core/errors.js';

const TIMEOUT_MS = 120_000;

export interface ProbeResult { readonly contextLength: number }

export function probeGguf(file: string): Promise<ProbeResult> {
  const fromSource = import.meta.url.endsWith('.ts');
  const child = fileURLToPath(new URL(`./probe-child.${fromSource ? 'ts' : 'js'}`, import.meta.url));
  // under tsx (tests, benchmarks) the child needs tsx's loader too
  const args = fromSource ? ['--import', 'tsx', child, file] : [child, file];
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    const timer = setTimeout(() => proc.kill('SIGKILL'), TIMEOUT_MS);
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) {
        try {
          return resolve(JSON.parse(out.trim().split('\n').at(-1)!) as ProbeResult);
        } catch { /* fall through to the error */ }
      }
      const how = signal ? `crashed (${signal})` : `failed (exit code ${code})`;
      const reason = /Error: (.*)/.exec(err)?.[1]?.slice(0, 300);
      reject(new FerryError('INVALID_ARGUMENT', `llama.cpp ${how} loading the GGUF file${reason ? `: ${reason}` : ''}; the file is not a model it can run`));
    });
  });
}
