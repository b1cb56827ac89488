// POST /v1/images/generations: a small VAE trained here on MNIST digits is pushed as the decoder
// `ferry train mnist-vae` registers, and the official openai client's images.generate reads its
// PNGs unchanged; a seed replays the same bytes; sizes scale by nearest neighbour; the decoder runs
// through the pool (V2 statistics count it); every bad field, an unknown model and a model that
// draws nothing get OpenAI's error envelope with a message that says what to send.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { runTraining } from '../../src/training/run.js';
import { RECIPES } from '../../src/training/recipes.js';
import type { TrainSpec } from '../../src/training/spec.js';
import { mlpModel } from '../fixtures/models.js';
import { pushModel, startServer, type TestServer } from '../helpers/server.js';

/** ~1 s of training: blurry, but strokes of digits on a dark background (mnist-cnn names 16% of
 *  them with confidence ≥ 0.9; the mnist-vae recipe's digits, 40-46%: `npm run bench -- vae`) */
const SPEC: TrainSpec = {
  ...RECIPES['mnist-vae']!,
  name: 'digits',
  dataset: { type: 'mnist', train: 4000, test: 200 },
  model: [{ type: 'VAE', width: 28, height: 28, hidden: [256], latent: 4, beta: 2 }],
  optimizer: { type: 'adam', lr: 3e-3 },
  epochs: 6,
  batchSize: 100,
};

interface ImagesBody { created: number; data: { b64_json: string }[]; size: string; output_format: string; model: string; seed: number }
interface ErrorBody { error: { message: string; type: string; code: string; param: null } }

/** A PNG's size and channels as stored, and its pixels as greyscale bytes. */
async function pixels(b64: string): Promise<{ width: number; height: number; channels: number; data: Buffer }> {
  const png = sharp(Buffer.from(b64, 'base64'));
  const meta = await png.metadata();
  assert.equal(meta.format, 'png');
  const { data, info } = await png.toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, channels: meta.channels, data };
}

function correlation(pairs: readonly (readonly [number, number])[]): number {
  const n = pairs.length;
  const [ma, mb] = [pairs.reduce((t, p) => t + p[0], 0) / n, pairs.reduce((t, p) => t + p[1], 0) / n];
  const cov = pairs.reduce((t, p) => t + (p[0] - ma) * (p[1] - mb), 0);
  const va = pairs.reduce((t, p) => t + (p[0] - ma) ** 2, 0);
  const vb = pairs.reduce((t, p) => t + (p[1] - mb) ** 2, 0);
  return cov / Math.sqrt(va * vb);
}

describe('POST /v1/images/generations', () => {
  let s: TestServer;
  const post = async (body: unknown): Promise<{ status: number; body: unknown }> => {
    const res = await fetch(`${s.url}/v1/images/generations`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    return { status: res.status, body: await res.json() };
  };
  const generate = async (body: Record<string, unknown>): Promise<ImagesBody> => {
    const r = await post({ model: 'digits', prompt: 'a handwritten digit', ...body });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body as ImagesBody;
  };
  const refused = async (body: Record<string, unknown>, status: number, message: RegExp, type = 'invalid_request_error'): Promise<void> => {
    const r = await post({ model: 'digits', prompt: 'a digit', ...body });
    assert.equal(r.status, status, JSON.stringify(r.body));
    const e = (r.body as ErrorBody).error;
    assert.equal(e.type, type);
    assert.match(e.message, message);
  };

  before(async () => {
    const { onnx } = await runTraining({ spec: SPEC, intraOpThreads: 1 });
    s = await startServer();
    for (const [name, bytes] of [['digits', onnx], ['mlp', mlpModel({ inputs: 4, hidden: 8, outputs: 3 })]] as const) {
      const res = await pushModel(s.url, name, bytes);
      assert.equal(res.status, 201, await res.text());
    }
  });
  after(() => s.close());

  it('answers the openai client\'s images.generate with n valid 28×28 greyscale PNGs of digit-like images', async () => {
    const { default: OpenAI } = await import('openai');
    const client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'not-needed' });
    const res = await client.images.generate({ model: 'digits', prompt: 'a handwritten seven', n: 4, response_format: 'b64_json' });
    assert.equal(res.data?.length, 4);
    assert.ok(Math.abs(res.created - Date.now() / 1000) < 60);
    const images = await Promise.all(res.data!.map((d) => pixels(d.b64_json!)));
    for (const img of images) {
      assert.deepEqual([img.width, img.height, img.channels], [28, 28, 1]);
      const px = Array.from(img.data, (v) => v / 255);
      const mean = px.reduce((a, b) => a + b, 0) / px.length;
      const sd = Math.sqrt(px.reduce((a, b) => a + (b - mean) ** 2, 0) / px.length);
      const border = px.filter((_, i) => i % 28 < 2 || i % 28 > 25 || i < 56 || i >= 728);
      // MNIST digits: mean pixel 0.13, a dark frame around a centred stroke; not blank, not a grey fog
      assert.ok(mean > 0.03 && mean < 0.35, `mean pixel ${mean}`);
      assert.ok(sd > 0.08, `pixel spread ${sd}: a flat image`);
      const frame = border.reduce((a, b) => a + b, 0) / border.length;
      assert.ok(frame < 0.05, `the frame is dark: its mean pixel is ${frame}`);
      // not noise: a pixel predicts its right-hand neighbour (strokes are smooth)
      const pairs = px.map((v, i) => [v, px[i + 1]!] as const).filter((_, i) => i % 28 < 27);
      const r = correlation(pairs);
      assert.ok(r > 0.6, `neighbouring pixels correlate ${r}; noise would be near 0`);
    }
    assert.equal(new Set(res.data!.map((d) => d.b64_json)).size, 4, 'four different images');
  });

  it('replays the same bytes for the same seed; another seed draws others; n = 1 is the first of n = 3', async () => {
    const a = await generate({ n: 3, seed: 42 });
    const b = await generate({ n: 3, seed: 42 });
    assert.deepEqual(a.data, b.data);
    assert.equal(a.seed, 42);
    assert.equal(a.model, 'digits:1');
    assert.deepEqual([a.size, a.output_format], ['28x28', 'png']);
    const c = await generate({ n: 3, seed: 43 });
    assert.ok(c.data.every((d, i) => d.b64_json !== a.data[i]!.b64_json));
    assert.deepEqual((await generate({ seed: 42 })).data, a.data.slice(0, 1));
    const unseeded = await generate({});
    assert.ok(Number.isInteger(unseeded.seed), 'the seed it drew is returned, so it can be replayed');
    assert.deepEqual((await generate({ seed: unseeded.seed })).data, unseeded.data);
  });

  it('scales to DALL·E 2 sizes by nearest neighbour: the same pixels in blocks', async () => {
    const small = await pixels((await generate({ seed: 5 })).data[0]!.b64_json);
    const big = await generate({ seed: 5, size: '256x256' });
    assert.equal(big.size, '256x256');
    const img = await pixels(big.data[0]!.b64_json);
    assert.deepEqual([img.width, img.height, img.channels], [256, 256, 1]);
    let same = 0;
    for (let y = 0; y < 256; y++) {
      for (let x = 0; x < 256; x++) if (img.data[y * 256 + x] === small.data[Math.floor((y * 28) / 256) * 28 + Math.floor((x * 28) / 256)]) same++;
    }
    // the blocks are 9 or 10 pixels wide; where a block edge falls may differ by one pixel
    assert.ok(same >= 0.85 * 256 * 256, `${same} of ${256 * 256} pixels are their block's 28×28 pixel`);
    assert.equal((await generate({ seed: 5, size: '28x28' })).data[0]!.b64_json, (await generate({ seed: 5, size: 'auto' })).data[0]!.b64_json);
  });

  it('runs the decoder through the pool: V2 statistics count each request and its rows', async () => {
    type Stat = { inference_count: number; inference_stats: { success: { count: number } } };
    const stats = async () => ((await (await fetch(`${s.url}/v2/models/digits/stats`)).json()) as { model_stats: Stat[] }).model_stats[0]!;
    const before = await stats();
    await generate({ n: 5, seed: 1 });
    const after = await stats();
    assert.equal(after.inference_stats.success.count - before.inference_stats.success.count, 1);
    assert.equal(after.inference_count - before.inference_count, 5);
  });

  it('refuses bad fields with a 400 that names the field and what to send', async () => {
    for (const n of [0, 17, 2.5, '3']) await refused({ n }, 400, /"n" must be an integer from 1 to 16/);
    await refused({ size: '64x64' }, 400, /"size" "64x64" is not available: this model draws 28x28 images, which Ferry also scales up to 256x256, 512x512, 1024x1024/);
    await refused({ size: 256 }, 400, /"size" must be a string such as "28x28"/);
    await refused({ response_format: 'url' }, 400, /"url" is not available: Ferry keeps no image store.*"b64_json"/);
    await refused({ response_format: 'png' }, 400, /"response_format" must be "b64_json"/);
    await refused({ output_format: 'jpeg' }, 400, /"output_format" must be "png"/);
    await refused({ quality: 'hd' }, 400, /"quality" is not adjustable/);
    await refused({ stream: true }, 400, /"stream" is not supported/);
    await refused({ seed: 'x' }, 400, /"seed" must be an integer/);
    await refused({ prompt: undefined }, 400, /"prompt" is required, a non-empty string .*unconditional/);
    await refused({ prompt: 7 }, 400, /"prompt" is required/);
    await refused({ model: '' }, 400, /"model" must name an image model/);
  });

  it('through the openai client a refusal is a BadRequestError carrying Ferry\'s message', async () => {
    const { default: OpenAI, BadRequestError } = await import('openai');
    const client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'not-needed', maxRetries: 0 });
    await assert.rejects(client.images.generate({ model: 'digits', prompt: 'a digit', response_format: 'url' }), (e: unknown) => {
      assert.ok(e instanceof BadRequestError);
      assert.equal(e.status, 400);
      assert.match(e.message, /Ferry keeps no image store/);
      return true;
    });
  });

  it('404s an unknown model and refuses one that is not an image generator, saying what it is', async () => {
    await refused({ model: 'nope' }, 404, /model "nope" does not exist/, 'not_found_error');
    await refused({ model: 'mlp' }, 400, /model "mlp" is not an image generator: it is a tensor model \(input \[N, 4\] → .*\), served by V2 infer at \/v2\/models\/mlp\/infer/);
  });
});
