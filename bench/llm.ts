// `npm run bench -- llm`: streaming text generation (GGUF on llama.cpp), Ferry against node-llama-cpp
// called directly in-process: the floor, since Ferry serves GGUF models through node-llama-cpp.
//
// The model (BENCH_LLM_MODEL):
//   tiny-gpt    (default) the `tiny-gpt` recipe trained by Ferry (runTraining, as `ferry train tiny-gpt`;
//               ~100 s on 2 vCPUs) and written by decoderGguf, as `ferry train tiny-gpt --gguf` does:
//               a character-level llama (64 wide, 2 blocks, context 128, 0.1 M parameters). The GGUF
//               is cached in bench/out/ under the recipe's hash (BENCH_LLM_RETRAIN=1 trains anew).
//               max_tokens 64: prompt and output fit its 128 tokens of context.
//   synthetic   the test fixture's seeded random weights (test/fixtures/tiny-llama.ts) in a bigger
//               shape, written by llamaGguf: 256 wide, 4 blocks of 4 heads, SwiGLU 688, context 512,
//               F32, the fixture's 354-token character vocabulary (3.3 M parameters, 13 MB), so a
//               token costs llama.cpp ~0.3 ms rather than tiny-gpt's ~0.15. The output head's rows for
//               the special and byte tokens are zeroed, so greedy decoding never picks end-of-sequence
//               and every token is one printable character. max_tokens 128. A JSON object instead
//               (BENCH_LLM_MODEL='{"dim":512,"layers":8,"ffn":1376}') changes the synthetic shape.
//
//   Ferry        `node bin/ferry.js serve` (built first) as its own process, the GGUF pushed through
//                POST /api/models/bench-llm/versions (with the admin key a fresh data folder prints),
//                driven by the official `openai` client: streaming chat completions (the file's plain
//                chat template), temperature 0, stream_options.include_usage. Two configs:
//                generation.parallel 16 (16 sequences: 16 streams decode together) and the default 4
//                (at 16 streams, 4 decode and 12 wait in Ferry's queue); generation.threads 1 (the
//                default) in both.
//   in-process   the same GGUF through node-llama-cpp's API in this process: getLlama({gpu: false,
//                build: 'never'}), loadModel, createContext({sequences, contextSize: the model's,
//                threads: 1}), the same chat prompt's tokens into LlamaContextSequence.evaluate with
//                temperature 0 (greedy), the same max_tokens, clearHistory() after each request (as
//                Ferry does), and the same number of sequences: requests beyond them wait in a FIFO.
//
// Load: for C in BENCH_CONCURRENCY (default 1,4,16) streams, each a loop of requests back to back,
// BENCH_LLM_REQUESTS (default 48) requests in all per point, prompts taken in turn from 8 chat
// messages. Generations cannot be told to ignore end-of-sequence, so every request's finish_reason
// is counted (the models above run to max_tokens: "length"). Per point: time to first token (request
// sent → first content; p50/p99 over requests), inter-token latency (gaps between consecutive tokens
// of a request; p50/p99 over all gaps, and the mean per request), aggregate tokens/s (all completion
// tokens ÷ the point's wall time), and CPU time per generated token: Ferry's server process (from
// /proc) and this process (the openai client while Ferry is measured; llama.cpp and its JS while the
// floor is). A warm-up (the model's first load, then a burst on every sequence) precedes each config.
// BENCH_REPEATS rounds (default 3), interleaved, a fresh Ferry process each; the table shows each
// figure's best round, the JSON every round. Ferry's and the floor's greedy texts are compared on
// every prompt. Prints a table, then one JSON line (also saved to bench/out/llm.json).
//
// BENCH_LLM_STREAM_INTERVAL=N sends Ferry's opt-in `stream_interval` N on every Ferry request: an SSE
// event per N tokens instead of per token (ITL is then the gap between events). Measure it separately.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Template } from '@huggingface/jinja';
import { getLlama, type LlamaContextSequence, type LlamaModel, type Token } from 'node-llama-cpp';
import OpenAI from 'openai';
import { decoderGguf } from '../src/llm/decoder-exports.js';
import { llamaGguf, PLAIN_CHAT_TEMPLATE, type DecoderConfig } from '../src/llm/gguf/llama-export.js';
import { readGgufHeader } from '../src/llm/gguf/read.js';
import { RECIPES } from '../src/training/recipes.js';
import { runTraining } from '../src/training/run.js';
import { TINY_CHARS, tinyParams, tinyVocab } from '../test/fixtures/tiny-llama.js';
import { ADMIN_KEY, freePort, stop } from './processes.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const out = path.join(root, 'bench/out');
const LEVELS = (process.env.BENCH_CONCURRENCY ?? '1,4,16').split(',').map(Number);
const REQUESTS = Number(process.env.BENCH_LLM_REQUESTS ?? 48);
const ROUNDS = Math.max(1, Number(process.env.BENCH_REPEATS ?? 3));
const THREADS = 1;
/** generation.parallel per config: 16 sequences, and Ferry's default 4 (a queue at 16 streams) */
const PARALLEL = (process.env.BENCH_LLM_PARALLEL ?? '16,4').split(',').map(Number);
const MODEL_NAME = 'bench-llm';
/** tiny-gpt (trained), or the synthetic model (optionally as a JSON object of DecoderConfig fields) */
const SOURCE = process.env.BENCH_LLM_MODEL ?? 'tiny-gpt';
const SYNTHETIC = SOURCE === 'synthetic' || SOURCE.startsWith('{');
const MAX_TOKENS = Number(process.env.BENCH_LLM_MAX_TOKENS ?? (SYNTHETIC ? 128 : 64));
/** opt-in: Ferry's `stream_interval` (tokens per SSE event) on every Ferry request; unset, an event per token */
const STREAM_INTERVAL = process.env.BENCH_LLM_STREAM_INTERVAL ? Number(process.env.BENCH_LLM_STREAM_INTERVAL) : undefined;
const PROMPTS = [
  'Tell me a story about a ferry.',
  'What is the capital of France?',
  'Write a haiku about the sea.',
  'Explain how a rudder steers a boat.',
  'List three kinds of knots sailors use.',
  'Why is the sky blue?',
  'Summarise Moby Dick.',
  'How many minutes does the crossing take?',
];
const FERRY = 'Ferry';
const FLOOR = 'in-process';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** one request as the client saw it */
interface Sample {
  prompt: number;
  promptTokens: number;
  /** ms from sending the request to the first content */
  ttft: number;
  /** ms between consecutive pieces of content */
  gaps: number[];
  /** completion tokens: usage for Ferry, yielded tokens for the floor */
  tokens: number;
  /** content pieces received (Ferry: SSE chunks with content) */
  chunks: number;
  finish: string;
  text: string;
}
interface Point {
  server: string;
  parallel: number;
  c: number;
  round: number;
  wallMs: number;
  samples: Sample[];
  /** CPU ms of Ferry's process (undefined for the floor) and of this process over the point */
  serverCpuMs?: number;
  benchCpuMs: number;
}
interface Summary {
  server: string;
  parallel: number;
  c: number;
  requests: number;
  tokens: number;
  tokensPerSec: number;
  ttftP50: number;
  ttftP99: number;
  itlP50: number;
  itlP99: number;
  /** mean over requests of (last token − first token) / (tokens − 1) */
  itlMean: number;
  finish: Record<string, number>;
  /** requests whose content chunks were not one per token (one per `stream_interval` tokens with it) */
  chunkMismatch: number;
  /** CPU ms per generated token: Ferry's server process, and this process */
  serverCpuMsPerToken?: number;
  benchCpuMsPerToken: number;
}

function pct(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const a = [...values].sort((x, y) => x - y);
  return a[Math.min(a.length - 1, Math.max(0, Math.ceil(p * a.length) - 1))]!;
}

function summarize(pt: Point): Summary {
  const s = pt.samples;
  const tokens = s.reduce((a, x) => a + x.tokens, 0);
  const gaps = s.flatMap((x) => x.gaps);
  const finish: Record<string, number> = {};
  for (const x of s) finish[x.finish] = (finish[x.finish] ?? 0) + 1;
  const perRequest = s.filter((x) => x.gaps.length > 0).map((x) => x.gaps.reduce((a, b) => a + b, 0) / x.gaps.length);
  return {
    server: pt.server, parallel: pt.parallel, c: pt.c, requests: s.length, tokens,
    tokensPerSec: tokens / (pt.wallMs / 1000),
    ttftP50: pct(s.map((x) => x.ttft), 0.5), ttftP99: pct(s.map((x) => x.ttft), 0.99),
    itlP50: pct(gaps, 0.5), itlP99: pct(gaps, 0.99),
    itlMean: perRequest.reduce((a, b) => a + b, 0) / perRequest.length,
    finish,
    chunkMismatch: s.filter((x) => x.chunks !== Math.ceil(x.tokens / (pt.server === FERRY ? STREAM_INTERVAL ?? 1 : 1))).length,
    ...(pt.serverCpuMs !== undefined ? { serverCpuMsPerToken: pt.serverCpuMs / tokens } : {}),
    benchCpuMsPerToken: pt.benchCpuMs / tokens,
  };
}

/** CPU ms (user + system) a process has used so far, from /proc (10 ms resolution). */
function procCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ 100)
}
const selfCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** c streams, each a loop of requests back to back; REQUESTS in all (at least one per stream). */
async function drive(server: string, parallel: number, c: number, round: number, one: (prompt: number) => Promise<Sample>, serverPid?: number): Promise<Point> {
  const perStream = Math.max(1, Math.round(REQUESTS / c));
  const samples: Sample[] = [];
  const cpu0 = serverPid !== undefined ? procCpuMs(serverPid) : 0;
  const self0 = selfCpuMs();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: c }, async (_, stream) => {
    for (let i = 0; i < perStream; i++) samples.push(await one((stream * perStream + i) % PROMPTS.length));
  }));
  const wallMs = performance.now() - t0;
  const pt: Point = { server, parallel, c, round, wallMs, samples, benchCpuMs: selfCpuMs() - self0, ...(serverPid !== undefined ? { serverCpuMs: procCpuMs(serverPid) - cpu0 } : {}) };
  const sm = summarize(pt);
  console.error(`  ${server}, parallel ${parallel}, ${c} stream${c > 1 ? 's' : ''}: ${sm.tokensPerSec.toFixed(0)} tokens/s, TTFT p50 ${sm.ttftP50.toFixed(1)} / p99 ${sm.ttftP99.toFixed(1)} ms, ITL p50 ${sm.itlP50.toFixed(2)} / p99 ${sm.itlP99.toFixed(2)} ms, finish ${JSON.stringify(sm.finish)}`);
  return pt;
}

// ---- Ferry, through the openai client -------------------------------------------------------------

function ferryRequest(client: OpenAI, maxTokens = MAX_TOKENS) {
  return async (prompt: number): Promise<Sample> => {
    const t0 = performance.now();
    const stream = await client.chat.completions.create({
      model: MODEL_NAME, messages: [{ role: 'user', content: PROMPTS[prompt]! }], max_tokens: maxTokens, temperature: 0,
      stream: true, stream_options: { include_usage: true },
      // Ferry's extension, not in the openai client's types
      ...(STREAM_INTERVAL !== undefined ? ({ stream_interval: STREAM_INTERVAL } as object) : {}),
    });
    let first = NaN, last = NaN, chunks = 0, tokens = NaN, promptTokens = NaN, finish = 'none', text = '';
    const gaps: number[] = [];
    for await (const chunk of stream) {
      const piece = chunk.choices[0]?.delta?.content;
      if (piece) {
        const now = performance.now();
        if (chunks === 0) first = now;
        else gaps.push(now - last);
        last = now;
        chunks++;
        text += piece;
      }
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) {
        tokens = chunk.usage.completion_tokens;
        promptTokens = chunk.usage.prompt_tokens;
      }
    }
    return { prompt, promptTokens, ttft: first - t0, gaps, tokens, chunks, finish, text };
  };
}

/** Starts `ferry serve`, waits for readiness, pushes the GGUF. */
async function startFerry(env: NodeJS.ProcessEnv, data: string, gguf: Uint8Array): Promise<{ proc: ChildProcess; base: string; key: string }> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const proc = spawn(process.execPath, [path.join(root, 'bin/ferry.js'), 'serve', '--port', String(port), '--data', data, '--log-level', 'warn'], { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-8000)));
  const until = Date.now() + 60_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`ferry serve exited with ${proc.exitCode}: ${err.trim().slice(-500)}`);
    if (Date.now() > until) {
      await stop(proc);
      throw new Error(`ferry serve did not become ready: ${err.trim().slice(-500)}`);
    }
    try {
      if ((await fetch(`${base}/v2/health/ready`)).status === 200) break;
    } catch { /* not up yet */ }
    await sleep(100);
  }
  // A fresh data folder makes an admin key, printed once on stderr just after listening; a Ferry
  // without API keys prints none and takes any.
  let key = 'none';
  for (const until = Date.now() + 3000; Date.now() < until; await sleep(50)) {
    const m = ADMIN_KEY.exec(err);
    if (m) {
      key = m[0];
      break;
    }
  }
  const pushed = await fetch(`${base}/api/models/${MODEL_NAME}/versions`, { method: 'POST', body: Buffer.from(gguf), headers: { 'content-type': 'application/octet-stream', authorization: `Bearer ${key}` } });
  if (pushed.status !== 201) {
    await stop(proc);
    throw new Error(`pushing the GGUF failed: ${pushed.status} ${await pushed.text()}`);
  }
  return { proc, base, key };
}

// ---- the floor: node-llama-cpp in this process ------------------------------------------------------

/** Sequences of one context with a FIFO of waiters, as Ferry's llama engine keeps them. */
class SequencePool {
  private readonly free: LlamaContextSequence[];
  private readonly waiting: ((s: LlamaContextSequence) => void)[] = [];
  constructor(seqs: LlamaContextSequence[]) {
    this.free = [...seqs];
  }
  acquire(): Promise<LlamaContextSequence> {
    const s = this.free.pop();
    return s ? Promise.resolve(s) : new Promise((resolve) => this.waiting.push(resolve));
  }
  async release(s: LlamaContextSequence): Promise<void> {
    await s.clearHistory();
    const next = this.waiting.shift();
    if (next) next(s);
    else this.free.push(s);
  }
}

function floorRequest(model: LlamaModel, pool: SequencePool, rendered: readonly string[], maxTokens = MAX_TOKENS) {
  const bos = model.tokens.bos;
  return async (prompt: number): Promise<Sample> => {
    const t0 = performance.now();
    const seq = await pool.acquire();
    try {
      let ids = model.tokenize(rendered[prompt]!, true);
      if (bos !== null && ids[0] !== bos) ids = [bos, ...ids];
      let first = NaN, last = NaN;
      const gaps: number[] = [];
      const out: Token[] = [];
      for await (const token of seq.evaluate(ids, { temperature: 0 })) {
        const now = performance.now();
        if (out.length === 0) first = now;
        else gaps.push(now - last);
        last = now;
        out.push(token);
        if (out.length >= maxTokens) break;
      }
      return { prompt, promptTokens: ids.length, ttft: first - t0, gaps, tokens: out.length, chunks: out.length, finish: out.length >= maxTokens ? 'length' : 'stop', text: model.detokenize(out) };
    } finally {
      await pool.release(seq);
    }
  };
}

async function runFloor(model: LlamaModel, parallel: number, round: number, rendered: readonly string[]): Promise<{ points: Point[]; texts: Map<number, Sample> }> {
  const context = await model.createContext({ sequences: parallel, contextSize: model.trainContextSize, threads: THREADS });
  try {
    const pool = new SequencePool(Array.from({ length: context.totalSequences }, () => context.getSequence()));
    // warm-up: one request, then every sequence at once
    await floorRequest(model, pool, rendered)(0);
    await Promise.all(Array.from({ length: parallel }, (_, i) => floorRequest(model, pool, rendered, 16)(i % PROMPTS.length)));
    const texts = new Map<number, Sample>();
    for (let p = 0; p < PROMPTS.length; p++) texts.set(p, await floorRequest(model, pool, rendered)(p));
    const points: Point[] = [];
    for (const c of LEVELS) points.push(await drive(FLOOR, parallel, c, round, floorRequest(model, pool, rendered)));
    return { points, texts };
  } finally {
    await context.dispose();
  }
}

async function runFerry(parallel: number, round: number, gguf: Uint8Array, work: string, env0: NodeJS.ProcessEnv): Promise<{ points: Point[]; texts: Map<number, Sample> }> {
  const data = mkdtempSync(path.join(work, 'ferry-'));
  const env = { ...env0, FERRY_BUILTIN_MODELS: 'false', FERRY_GENERATION_PARALLEL: String(parallel), FERRY_GENERATION_THREADS: String(THREADS) };
  const { proc, base, key } = await startFerry(env, data, gguf);
  try {
    const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: key, maxRetries: 0, timeout: 120_000 });
    // warm-up: the model's first load, then every sequence at once
    await ferryRequest(client)(0);
    await Promise.all(Array.from({ length: parallel }, (_, i) => ferryRequest(client, 16)(i % PROMPTS.length)));
    const texts = new Map<number, Sample>();
    for (let p = 0; p < PROMPTS.length; p++) texts.set(p, await ferryRequest(client)(p));
    const points: Point[] = [];
    for (const c of LEVELS) points.push(await drive(FERRY, parallel, c, round, ferryRequest(client), proc.pid!));
    return { points, texts };
  } finally {
    await stop(proc);
  }
}

interface BenchModel {
  source: string;
  file: string;
  gguf: Uint8Array;
  cfg: ReturnType<typeof shapeOf>['cfg'];
  parameters: number;
  describe: string;
  /** tiny-gpt: how it was trained (seconds is the training run that made the cached file) */
  training?: { seconds: number; testLoss: number; cached: boolean; file: string };
}

/** The shape and parameter count a GGUF file states (llama architecture). */
function shapeOf(file: string): { cfg: Pick<DecoderConfig, 'vocab' | 'context' | 'dim' | 'heads' | 'layers' | 'ffn'>; parameters: number } {
  const h = readGgufHeader(file);
  const num = (key: string) => Number(h.metadata.get(key)?.value);
  const tokens = h.metadata.get('tokenizer.ggml.tokens');
  return {
    cfg: {
      vocab: tokens?.type === 'array' ? tokens.value.length : NaN, context: num('llama.context_length'), dim: num('llama.embedding_length'),
      heads: num('llama.attention.head_count'), layers: num('llama.block_count'), ffn: num('llama.feed_forward_length'),
    },
    parameters: h.tensors.reduce((a, t) => a + t.dims.reduce((x, y) => x * y, 1), 0),
  };
}

async function makeBenchModel(): Promise<{ source: string; file: string; describe: string; training?: BenchModel['training'] }> {
  if (SYNTHETIC) {
    const cfg: DecoderConfig = {
      vocab: 3 + 256 + TINY_CHARS.length, context: 512, dim: 256, heads: 4, layers: 4, ffn: 688, eps: 1e-5, ropeBase: 10000,
      ...(SOURCE.startsWith('{') ? (JSON.parse(SOURCE) as Partial<DecoderConfig>) : {}),
    };
    const params = tinyParams(7, cfg);
    const head = params.get('output.weight')!; // Ferry's Linear layout [dim, vocab]: zero the specials' and bytes' logits
    for (let d = 0; d < cfg.dim; d++) head.fill(0, d * cfg.vocab, d * cfg.vocab + 3 + 256);
    const file = path.join(out, 'llm-synthetic.gguf');
    writeFileSync(file, llamaGguf(params, cfg, tinyVocab(), { name: MODEL_NAME }));
    return { source: 'synthetic', file, describe: 'synthetic llama (random weights, test/fixtures/tiny-llama.ts)' };
  }
  if (SOURCE !== 'tiny-gpt') throw new Error(`BENCH_LLM_MODEL must be tiny-gpt, synthetic or a JSON object of the synthetic model's shape; got ${SOURCE}`);
  const spec = RECIPES['tiny-gpt']!;
  const hash = createHash('sha256').update(JSON.stringify(spec)).digest('hex').slice(0, 12);
  const file = path.join(out, `llm-tiny-gpt-${hash}.gguf`);
  const info = `${file}.json`;
  let training: { seconds: number; testLoss: number };
  let cached = existsSync(file) && existsSync(info) && process.env.BENCH_LLM_RETRAIN !== '1';
  if (cached) {
    training = JSON.parse(readFileSync(info, 'utf8')) as typeof training;
  } else {
    console.error(`llm: training the tiny-gpt recipe (${spec.epochs} epochs; cached in ${path.relative(root, file)} for later runs)`);
    const t0 = performance.now();
    const result = await runTraining({ spec, intraOpThreads: os.availableParallelism() });
    training = { seconds: Number(((performance.now() - t0) / 1000).toFixed(1)), testLoss: Number(result.metrics.testLoss.toFixed(4)) };
    writeFileSync(file, decoderGguf(result.onnx, spec.name));
    writeFileSync(info, JSON.stringify(training));
    cached = false;
  }
  return { source: 'tiny-gpt', file, training: { ...training, cached, file: path.relative(root, file) }, describe: `tiny-gpt, trained by Ferry's recipe (${training.seconds} s, test loss ${training.testLoss} nats/char${cached ? ', cached' : ''}), written by decoderGguf` };
}

/** The model's file, read back, with the shape and size it states. */
async function loadBenchModel(): Promise<BenchModel> {
  const m = await makeBenchModel();
  const { cfg, parameters } = shapeOf(m.file);
  const gguf = new Uint8Array(readFileSync(m.file));
  return {
    ...m, gguf, cfg, parameters,
    describe: `${m.describe}: ${cfg.dim} wide × ${cfg.layers} blocks, ${cfg.heads} heads, ffn ${cfg.ffn}, vocabulary ${cfg.vocab}, context ${cfg.context}, ${(parameters / 1e6).toFixed(2)} M parameters, ${(gguf.length / 1e6).toFixed(1)} MB F32`,
  };
}

export async function benchLlm(): Promise<void> {
  const load = os.loadavg()[0]!; // other work on the machine, before this bench adds its own
  mkdirSync(out, { recursive: true });
  // `ferry serve` runs from dist/: build it from the current src/ first.
  const build = spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.json')], { cwd: root, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`the build (tsc -p tsconfig.json, as npm run build) failed:\n${(build.stdout + build.stderr).trim().slice(-2000)}`);

  // 1. The model.
  const bm = await loadBenchModel();
  const gguf = bm.gguf;
  const ggufPath = bm.file;
  const work = mkdtempSync(path.join(tmpdir(), 'ferry-bench-llm-'));
  console.error(`llm: ${bm.describe}`);

  // The chat prompts as Ferry renders them (the file's plain template, as generation-routes does).
  const template = new Template(PLAIN_CHAT_TEMPLATE);
  const rendered = PROMPTS.map((content) => template.render({ messages: [{ role: 'user', content }], add_generation_prompt: true, bos_token: '<s>', eos_token: '</s>' }));

  const llama = await getLlama({ gpu: false, build: 'never', logger: () => {}, progressLogs: false });
  const model = await llama.loadModel({ modelPath: ggufPath });
  const longest = Math.max(...rendered.map((r) => model.tokenize(r, true).length + 1));
  if (longest + MAX_TOKENS > model.trainContextSize) throw new Error(`the longest prompt (${longest} tokens) plus max_tokens ${MAX_TOKENS} does not fit the model's context of ${model.trainContextSize}`);
  const env0 = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FERRY_')));
  const all: Point[] = [];
  let ferryTexts: Map<number, Sample> | undefined;
  let floorTexts: Map<number, Sample> | undefined;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      console.error(`  round ${round + 1}/${ROUNDS}`);
      for (const parallel of PARALLEL) {
        // alternate which server goes first, so neither always runs on the warmer machine
        const runs = [
          async () => {
            const r = await runFloor(model, parallel, round, rendered);
            floorTexts ??= r.texts;
            all.push(...r.points);
          },
          async () => {
            const r = await runFerry(parallel, round, gguf, work, env0);
            ferryTexts ??= r.texts;
            all.push(...r.points);
          },
        ];
        if (round % 2 === 1) runs.reverse();
        for (const run of runs) {
          await run();
          await sleep(1000);
        }
      }
    }
  } finally {
    await model.dispose();
    await llama.dispose();
    rmSync(work, { recursive: true, force: true });
  }

  // 2. Correctness: the same prompt tokens and the same greedy text from both.
  const correctness = PROMPTS.map((_, p) => {
    const f = ferryTexts!.get(p)!, l = floorTexts!.get(p)!;
    return { prompt: p, promptTokens: f.promptTokens, samePromptTokens: f.promptTokens === l.promptTokens, sameText: f.text === l.text, ferry: f.text.slice(0, 40), floor: l.text.slice(0, 40) };
  });
  report(all, { load, model: bm, correctness });
}

interface Extra {
  load: number;
  model: BenchModel;
  correctness: { prompt: number; promptTokens: number; samePromptTokens: boolean; sameText: boolean; ferry: string; floor: string }[];
}

function report(points: Point[], x: Extra): void {
  // each figure its best round
  const rows: (Summary & { rounds: { tokensPerSec: number[]; ttftP50: number[]; itlP50: number[] } })[] = [];
  for (const pt of points) {
    const s = summarize(pt);
    const i = rows.findIndex((r) => r.server === s.server && r.parallel === s.parallel && r.c === s.c);
    const r = rows[i];
    if (!r) {
      rows.push({ ...s, rounds: { tokensPerSec: [s.tokensPerSec], ttftP50: [s.ttftP50], itlP50: [s.itlP50] } });
      continue;
    }
    const fin: Record<string, number> = { ...r.finish };
    for (const [k, v] of Object.entries(s.finish)) fin[k] = (fin[k] ?? 0) + v;
    const better = s.tokensPerSec > r.tokensPerSec;
    rows[i] = {
      ...r,
      requests: r.requests + s.requests, tokens: r.tokens + s.tokens,
      tokensPerSec: Math.max(r.tokensPerSec, s.tokensPerSec),
      ttftP50: Math.min(r.ttftP50, s.ttftP50), ttftP99: Math.min(r.ttftP99, s.ttftP99),
      itlP50: Math.min(r.itlP50, s.itlP50), itlP99: Math.min(r.itlP99, s.itlP99), itlMean: Math.min(r.itlMean, s.itlMean),
      finish: fin, chunkMismatch: r.chunkMismatch + s.chunkMismatch,
      ...(s.serverCpuMsPerToken !== undefined ? { serverCpuMsPerToken: better ? s.serverCpuMsPerToken : r.serverCpuMsPerToken! } : {}),
      benchCpuMsPerToken: better ? s.benchCpuMsPerToken : r.benchCpuMsPerToken,
      rounds: { tokensPerSec: [...r.rounds.tokensPerSec, s.tokensPerSec], ttftP50: [...r.rounds.ttftP50, s.ttftP50], itlP50: [...r.rounds.itlP50, s.itlP50] },
    };
  }
  rows.sort((a, b) => b.parallel - a.parallel || a.c - b.c || (a.server === FERRY ? -1 : 1));
  const at = (server: string, parallel: number, c: number) => rows.find((r) => r.server === server && r.parallel === parallel && r.c === c);
  const pad = (s: string, n: number) => s.padEnd(n);
  const date = new Date().toISOString().slice(0, 10);
  const cpu = `${os.cpus().length} vCPUs (${os.cpus()[0]?.model})`;
  console.log(`\nLLM streaming: ${x.model.describe}; chat completions, temperature 0,${STREAM_INTERVAL !== undefined ? ` Ferry with stream_interval ${STREAM_INTERVAL},` : ''} max_tokens ${MAX_TOKENS}, ${REQUESTS} requests per point, llama.cpp threads ${THREADS}, best of ${ROUNDS}; ${cpu}, Node ${process.version}, ${date}, 1-min load average ${x.load.toFixed(2)} before the run`);
  console.log(`${pad('server', 11)} ${pad('parallel', 9)} ${pad('streams', 8)} ${pad('tokens/s', 9)} ${pad('×floor', 7)} ${pad('TTFT p50', 9)} ${pad('TTFT p99', 9)} ${pad('ITL p50', 8)} ${pad('ITL p99', 8)} ${pad('ITL mean', 9)} ${pad('CPU ms/token server+client', 27)} finish_reason`);
  for (const r of rows) {
    const f = r.server === FERRY ? at(FLOOR, r.parallel, r.c) : undefined;
    const cpuPerToken = r.serverCpuMsPerToken !== undefined ? `${r.serverCpuMsPerToken.toFixed(3)} + ${r.benchCpuMsPerToken.toFixed(3)}` : `${r.benchCpuMsPerToken.toFixed(3)}`;
    console.log(`${pad(r.server, 11)} ${pad(String(r.parallel), 9)} ${pad(String(r.c), 8)} ${pad(r.tokensPerSec.toFixed(0), 9)} ${pad(f ? (r.tokensPerSec / f.tokensPerSec).toFixed(2) : '', 7)} ${pad(r.ttftP50.toFixed(1), 9)} ${pad(r.ttftP99.toFixed(1), 9)} ${pad(r.itlP50.toFixed(2), 8)} ${pad(r.itlP99.toFixed(2), 8)} ${pad(r.itlMean.toFixed(2), 9)} ${pad(cpuPerToken, 27)} ${Object.entries(r.finish).map(([k, v]) => `${k} ${v}`).join(', ')}${r.chunkMismatch ? ` (${r.chunkMismatch} requests not one chunk per token)` : ''}`);
  }
  const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined ? Number((a / b).toFixed(2)) : null);
  const ratios: Record<string, number | null> = {};
  for (const p of PARALLEL) {
    for (const c of LEVELS) ratios[`ferry_vs_floor_tps_p${p}_c${c}`] = ratio(at(FERRY, p, c)?.tokensPerSec, at(FLOOR, p, c)?.tokensPerSec);
    ratios[`ferry_c4_over_c1_p${p}`] = ratio(at(FERRY, p, 4)?.tokensPerSec, at(FERRY, p, 1)?.tokensPerSec);
    ratios[`floor_c4_over_c1_p${p}`] = ratio(at(FLOOR, p, 4)?.tokensPerSec, at(FLOOR, p, 1)?.tokensPerSec);
  }
  const p0 = PARALLEL[0]!;
  const t1 = ratios[`ferry_vs_floor_tps_p${p0}_c1`] ?? null;
  const t4 = ratios[`ferry_c4_over_c1_p${p0}`] ?? null;
  const target = {
    ferryOverFloorAt1: { value: t1, target: 0.95, met: t1 !== null && t1 >= 0.95 },
    ferry4Over1: { value: t4, target: 2, met: t4 !== null && t4 >= 2, floor: ratios[`floor_c4_over_c1_p${p0}`] ?? null },
  };
  const same = x.correctness.filter((c) => c.sameText && c.samePromptTokens).length;
  console.log(`\ncorrectness: the same prompt tokens and greedy text (${MAX_TOKENS} tokens) from Ferry and the floor on ${same}/${x.correctness.length} prompts`);
  console.log(`targets (parallel ${p0}): Ferry ÷ in-process tokens/s at 1 stream ${t1} (≥ 0.95: ${target.ferryOverFloorAt1.met ? 'met' : 'not met'}); Ferry 4 streams ÷ 1 stream ${t4} (≥ 2: ${target.ferry4Over1.met ? 'met' : 'not met'}; the floor's own: ${target.ferry4Over1.floor})`);
  const r3 = (v: number) => Number(v.toFixed(3));
  const result = {
    bench: 'llm',
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version, loadAverageBefore: Number(x.load.toFixed(2)) },
    model: { source: x.model.source, ...x.model.cfg, parameters: x.model.parameters, ggufBytes: x.model.gguf.length, type: 'F32', ...(x.model.training ? { training: x.model.training } : {}) },
    settings: { ...(STREAM_INTERVAL !== undefined ? { streamInterval: STREAM_INTERVAL } : {}), maxTokens: MAX_TOKENS, requestsPerPoint: REQUESTS, levels: LEVELS, parallel: PARALLEL, threads: THREADS, rounds: ROUNDS, api: 'chat.completions, stream, temperature 0' },
    rows: rows.map((r) => ({
      ...r, tokensPerSec: Math.round(r.tokensPerSec), ttftP50: r3(r.ttftP50), ttftP99: r3(r.ttftP99), itlP50: r3(r.itlP50), itlP99: r3(r.itlP99), itlMean: r3(r.itlMean),
      ...(r.serverCpuMsPerToken !== undefined ? { serverCpuMsPerToken: r3(r.serverCpuMsPerToken) } : {}), benchCpuMsPerToken: r3(r.benchCpuMsPerToken),
      rounds: { tokensPerSec: r.rounds.tokensPerSec.map(Math.round), ttftP50: r.rounds.ttftP50.map(r3), itlP50: r.rounds.itlP50.map(r3) },
    })),
    ratios,
    target,
    correctness: x.correctness,
  };
  writeFileSync(path.join(out, 'llm.json'), JSON.stringify(result, null, 1));
  console.log(JSON.stringify(result));
}
